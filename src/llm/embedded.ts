/**
 * The embedded model world, started in this process the first time a role that names it
 * (`baseURL: 'embedded:world'`) makes a call, and stopped with the build. It is reached over
 * loopback HTTP through the same openai client as any endpoint.
 */
export const EMBEDDED_WORLD = 'embedded:world';

let world: Promise<{baseURL: string; close(): Promise<void>}> | undefined;

export async function embeddedWorldURL(): Promise<string> {
  world ??= import('../world/server.js').then((m) => m.startWorldServer());
  return (await world).baseURL;
}

export async function stopEmbeddedWorld(): Promise<void> {
  const w = world;
  world = undefined;
  if (w) await (await w).close();
}
