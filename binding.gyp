{
  "variables": {
    # A prebuilt binary links libffi statically (scripts/prebuild.sh sets this
    # to Debian's position-independent libffi_pic.a); empty: the system's.
    "cffi_static_libffi%": "<!(node -p \"process.env.CFFI_BUN_STATIC_LIBFFI || ''\")"
  },
  "targets": [
    {
      "target_name": "cffi_bun",
      "sources": [
        "src/addon.c",
        "src/base/js_helpers.c",
        "src/base/text.c",
        "src/base/debug_log.c",
        "src/base/process_exit.c",
        "src/base/finalizer_env.c",
        "src/types/types.c",
        "src/types/wide_strings.c",
        "src/types/layout.c",
        "src/types/struct_values.c",
        "src/types/layout_abi.c",
        "src/types/layout_c.c",
        "src/platform/abi.c",
        "src/platform/pin.c",
        "src/platform/stubs.c",
        "src/platform/symbol_kind.c",
        "src/platform/thread_pool.c",
        "src/platform/windows.c",
        "src/calls/call.c",
        "src/calls/jit.c",
        "src/calls/precompiled.c",
        "src/calls/variadic.c",
        "src/calls/view_source.c",
        "src/calls/async_call.c",
        "src/calls/batch.c",
        "src/calls/batch_buffer.c",
        "src/calls/map_jit.c",
        "src/calls/map_precompiled.c",
        "src/calls/node_ffi.c",
        "src/callbacks/callback.c",
        "src/callbacks/register_closure.c",
        "src/callbacks/precompiled_callback.c",
        "src/memory/memory.c",
        "src/memory/node_ffi_read.c",
        "src/library/library.c",
        "src/library/data_symbol.c",
        "src/cc/compiler.c",
        "src/cc/cache.c",
        "src/cc/fixups.c",
        "src/cc/sha256.c",
        "src/platform/tcc_glue.c",
        "src/platform/tcc_limits.c"
      ],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags!": ["-O3"],
      "conditions": [
        ["OS=='linux' or OS=='freebsd'", {
          "defines": ["_GNU_SOURCE"],
          "cflags_c": [
            "<!@(pkg-config --cflags libffi 2>/dev/null || true)",
            "<!@(node scripts/find-tcc.js cflags <(target_arch))"
          ],
          "libraries": [
            "<!@(node scripts/find-tcc.js libs <(target_arch))",
            "-ldl", "-lm", "-lpthread",
            # Node unloads an addon when the last env that loaded it ends (a
            # worker's), under C threads that may still call its callbacks'
            # stubs: the code stays mapped so they find their callback closed.
            "-Wl,-z,nodelete"
          ],
          "conditions": [
            ["cffi_static_libffi==''", {
              "libraries": ["<!@(pkg-config --libs libffi 2>/dev/null || echo -lffi)"]
            }, {
              "libraries": ["<(cffi_static_libffi)", "-Wl,--exclude-libs,ALL", "-static-libgcc"]
            }]
          ]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_C_LANGUAGE_STANDARD": "gnu11",
            "OTHER_CFLAGS": ["-O2", "-Wall", "-Wextra", "<!@(pkg-config --cflags libffi 2>/dev/null || echo -I$(brew --prefix libffi 2>/dev/null)/include)"]
          },
          "libraries": ["<!@(pkg-config --libs libffi 2>/dev/null || echo -L$(brew --prefix libffi 2>/dev/null)/lib -lffi)"]
        }],
        ["OS=='win'", {
          # clang-cl (Visual Studio's "C++ Clang tools for Windows"): the sources are
          # C11 with GNU attributes, VLAs and <stdatomic.h>, which MSVC's own C
          # compiler does not take. CFFI_BUN_MSBUILD_TOOLSET picks another toolset.
          "msbuild_toolset": "<!(node -p \"process.env.CFFI_BUN_MSBUILD_TOOLSET || 'ClangCL'\")",
          "include_dirs": ["<!(node -p \"(process.env.VCPKG_ROOT||'C:/vcpkg')+'/installed/x64-windows/include'\")"],
          "libraries": ["<!(node -p \"(process.env.VCPKG_ROOT||'C:/vcpkg')+'/installed/x64-windows/lib/ffi.lib'\")"],
          "msvs_settings": { "VCCLCompilerTool": { "Optimization": 2, "WarningLevel": 3 } }
        }]
      ]
    }
  ]
}
