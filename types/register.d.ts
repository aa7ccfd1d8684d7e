// `cffi-bun/register` has no exports: importing it makes "bun:ffi" resolve
// to cffi-bun (see docs/typescript.md).
export {};
