import {dirname, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

/** This installation's CLI, bin/stage.js (from src/ or lib/, one level below the package root). */
export const STAGE_CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'stage.js');
