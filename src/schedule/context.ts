import type {LoadedStagefile} from '../config/load.js';
import type {Settings} from '../config/settings.js';
import type {RuleCodeHasher} from '../fingerprint/rule-code.js';
import type {Graph} from '../graph/graph.js';
import type {WorkspaceState} from '../state/state.js';
import type {Store} from '../store/store.js';

/** What every phase after analysis shares: the graph, the workspace's memory and the store. */
export interface BuildContext {
  readonly loaded: LoadedStagefile;
  readonly graph: Graph;
  readonly state: WorkspaceState;
  readonly store: Store;
  readonly ruleCode: RuleCodeHasher;
  readonly settings: Settings;
}
