// The ES module resolve hook of `wasinet/register` (module.register runs it on the loader's
// thread): `net` and `node:net` resolve to wasinet for every importer but wasinet itself, whose
// node backends run on the real node:net.
interface ResolveContext { parentURL?: string }
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;

let own = '';
let facade = '';

export function initialize(data: { own: string; facade: string }): void {
  own = data.own;
  facade = data.facade;
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string; shortCircuit?: boolean }> {
  if ((specifier === 'net' || specifier === 'node:net') && !(context.parentURL ?? '').startsWith(own)) {
    return { url: facade, shortCircuit: true };
  }
  return next(specifier, context);
}
