// The part of the WebAssembly JS API that wasinet uses. @types/node 20 does not declare it
// (TypeScript has it only in lib.dom), and the host must not pull the DOM types in.
declare namespace WebAssembly {
  type ImportValue = Function | Memory | Global | Table | number;
  type ModuleImports = Record<string, ImportValue>;
  type Imports = Record<string, ModuleImports>;
  type Exports = Record<string, Function | Memory | Global | Table>;
  interface ModuleImportDescriptor { module: string; name: string; kind: string }
  interface ModuleExportDescriptor { name: string; kind: string }
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
    static imports(module: Module): ModuleImportDescriptor[];
    static exports(module: Module): ModuleExportDescriptor[];
  }
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Exports;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class Global { value: any }
  class Table { readonly length: number }
  class RuntimeError extends Error {}
  class CompileError extends Error {}
  class LinkError extends Error {}
}
