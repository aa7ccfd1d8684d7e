// The module customization hooks of lib/hooks.cjs, as the ES module that
// module.register (Node 20, and Nodes before 22.15 / 23.5) loads on its
// loader thread. Newer Nodes run the same hooks in-thread (registerHooks).
import hooks from "./hooks.cjs";

export const { resolve, load } = hooks;
