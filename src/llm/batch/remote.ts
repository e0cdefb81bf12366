import type {OpenAIClient} from '../endpoints.js';
import {BATCH_ENDPOINT} from './jsonl.js';

/** The thin I/O half of the Batch executor: the Files and Batches endpoints, nothing else. */

/** What a poll tells us about a batch. */
export interface BatchSnapshot {
  readonly status: string;
  readonly completed: number;
  readonly failed: number;
  readonly total: number;
  readonly outputFileId: string | undefined;
  readonly errorFileId: string | undefined;
}

/** Uploads one JSONL file and creates a 24 h batch over it. */
export async function submitBatch(client: OpenAIClient, name: string, jsonl: string, metadata: Record<string, string>): Promise<{batchId: string; inputFileId: string}> {
  const {toFile} = await import('openai');
  const file = await client.files.create({file: await toFile(Buffer.from(jsonl, 'utf8'), name), purpose: 'batch'});
  const batch = await client.batches.create({input_file_id: file.id, endpoint: BATCH_ENDPOINT, completion_window: '24h', metadata});
  return {batchId: batch.id, inputFileId: file.id};
}

export async function pollBatch(client: OpenAIClient, batchId: string, signal: AbortSignal): Promise<BatchSnapshot> {
  const b = await client.batches.retrieve(batchId, {signal});
  return {
    status: b.status,
    completed: b.request_counts?.completed ?? 0,
    failed: b.request_counts?.failed ?? 0,
    total: b.request_counts?.total ?? 0,
    outputFileId: b.output_file_id ?? undefined,
    errorFileId: b.error_file_id ?? undefined,
  };
}

/**
 * Batches made for this action key that no state file records: a build killed between creating
 * a batch and persisting its id leaves one. They are found by the `stage_key` metadata every
 * batch carries, and their custom_ids read back from their input file, so they are adopted
 * instead of paid for twice.
 */
export async function findOrphans(client: OpenAIClient, actionKey: string, known: ReadonlySet<string>, signal: AbortSignal): Promise<{batchId: string; inputFileId: string; customIds: string[]}[]> {
  const found: {batchId: string; inputFileId: string; customIds: string[]}[] = [];
  const page = await client.batches.list({limit: 100}, {signal});
  for (const b of page.data) {
    if (b.metadata?.['stage_key'] !== actionKey || known.has(b.id) || DEAD.has(b.status)) continue;
    const text = await downloadFile(client, b.input_file_id, signal);
    const customIds = text.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as {custom_id: string}).custom_id);
    found.push({batchId: b.id, inputFileId: b.input_file_id, customIds});
  }
  return found;
}

const DEAD = new Set(['failed', 'cancelled', 'cancelling', 'expired']);

/** A result file's text; '' when there is none. */
export async function downloadFile(client: OpenAIClient, fileId: string | undefined, signal: AbortSignal): Promise<string> {
  if (!fileId) return '';
  return (await client.files.content(fileId, {signal})).text();
}
