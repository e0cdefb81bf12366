import {join} from 'node:path';
import type {Command, LlmRule, ModelRoleDecl, Rule, TargetDecl} from '../config/define.js';
import type {RelPath, TargetId} from '../ids.js';

/** One output of a target: a file, or a directory when `dir` is set (written `path/`). */
export interface OutputDecl {
  readonly path: RelPath;
  readonly dir: boolean;
}

/** A validated target. Immutable once analysis has built the graph. */
export interface Node {
  readonly id: TargetId;
  readonly index: number;
  readonly decl: TargetDecl;
  /** Indices of dependency nodes, in declaration order. */
  readonly deps: readonly number[];
  /** Indices of nodes that depend on this one. */
  readonly dependents: number[];
  readonly outputs: readonly OutputDecl[];
  /** Input patterns relative to the root, as written. */
  readonly inputs: readonly string[];
  readonly run: Rule<unknown> | LlmRule<unknown> | Command;
  /** Canonical JSON of the parameters, computed once during analysis. */
  readonly params: string;
  /** The JSON Schema outputs are checked against; its contents enter the key like an input's. */
  readonly schema?: string;
  /** Pool name → units taken while running. */
  readonly resources: ReadonlyMap<string, number>;
}

export interface Graph {
  readonly root: string;
  readonly nodes: readonly Node[];
  readonly byName: ReadonlyMap<string, Node>;
  /** Node indices with every dependency before its dependents. */
  readonly order: readonly number[];
  readonly pools: ReadonlyMap<string, number>;
  /** Model roles by name. */
  readonly models: ReadonlyMap<string, ModelRoleDecl>;
}

/** Where each dependency's outputs are in the workspace, by dependency name: what a rule reads. */
export function dependencyOutputs(graph: Graph, node: Node): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of node.deps) {
    const dep = graph.nodes[d]!;
    out[dep.id] = dep.outputs.map((o) => join(graph.root, o.path));
  }
  return out;
}
