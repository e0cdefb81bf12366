/**
 * The Files API: uploads (multipart, parsed with the Fetch API's own FormData parser that
 * Node ships), metadata, downloads and deletion. Batch input, output and error files all live
 * here, in memory, for the life of one server.
 */
import {invalidRequest, notFound, type IdGenerator, type JsonResult} from './util.js';

const FILE_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals', 'batch_output'];

export interface FileObjectJson {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  status_details: null;
  expires_at: number | null;
}

/** A raw file download: bytes plus the content type to send. */
export interface RawResult {
  status: number;
  raw: Buffer;
  contentType: string;
}

export class FileStore {
  private readonly files = new Map<string, {meta: FileObjectJson; content: Buffer}>();

  constructor(private readonly ids: IdGenerator, private readonly nowSeconds: () => number) {}

  add(filename: string, purpose: string, content: Buffer): FileObjectJson {
    const created = this.nowSeconds();
    const meta: FileObjectJson = {
      id: this.ids.next('file-'),
      object: 'file',
      bytes: content.length,
      created_at: created,
      filename,
      purpose,
      status: 'processed',
      status_details: null,
      // Batch input files expire after 30 days by default.
      expires_at: purpose === 'batch' ? created + 30 * 24 * 3600 : null,
    };
    this.files.set(meta.id, {meta, content});
    return meta;
  }

  get(id: string): {meta: FileObjectJson; content: Buffer} | undefined {
    return this.files.get(id);
  }

  /** Parses a multipart upload (`file` and `purpose` fields) as POST /v1/files receives it. */
  async upload(contentType: string | undefined, body: Buffer): Promise<JsonResult> {
    if (!contentType?.toLowerCase().startsWith('multipart/form-data')) {
      return invalidRequest('Expected a multipart/form-data body with "file" and "purpose" fields.');
    }
    let form: FormData;
    try {
      form = await new Request('http://upload.invalid/', {method: 'POST', headers: {'content-type': contentType}, body}).formData();
    } catch {
      return invalidRequest('Could not parse the multipart/form-data body.');
    }
    const file = form.get('file');
    const purpose = form.get('purpose');
    if (file === null || typeof file === 'string') return invalidRequest("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
    if (typeof purpose !== 'string') return invalidRequest("Missing required parameter: 'purpose'.", 'purpose', 'missing_required_parameter');
    if (!FILE_PURPOSES.includes(purpose)) {
      return invalidRequest(`Invalid value for 'purpose': '${purpose}'.`, 'purpose', 'invalid_value');
    }
    if (purpose === 'batch' && !file.name.endsWith('.jsonl')) {
      return invalidRequest('Invalid file format for Batch API. Must be .jsonl', 'file', 'invalid_file_format');
    }
    const content = Buffer.from(await file.arrayBuffer());
    return {status: 200, body: this.add(file.name, purpose, content)};
  }

  retrieve(id: string): JsonResult {
    const f = this.files.get(id);
    return f ? {status: 200, body: f.meta} : notFound(`No such File object: ${id}`, 'id');
  }

  content(id: string): RawResult | JsonResult {
    const f = this.files.get(id);
    if (!f) return notFound(`No such File object: ${id}`, 'id');
    return {status: 200, raw: f.content, contentType: 'application/octet-stream'};
  }

  list(purpose: string | null): JsonResult {
    const data = [...this.files.values()].map((f) => f.meta).filter((m) => purpose === null || m.purpose === purpose).reverse();
    return {status: 200, body: {object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: false}};
  }

  delete(id: string): JsonResult {
    if (!this.files.delete(id)) return notFound(`No such File object: ${id}`, 'id');
    return {status: 200, body: {id, object: 'file', deleted: true}};
  }
}
