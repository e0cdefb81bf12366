import type {ChatMessage} from 'stage';

/** The artifact rows the pipeline passes between targets; each has a schema in schemas/. */
export interface Task { id: string; row: number; text: string }
export interface Persona { id: string; text: string }
export interface PersonaName { id: string; name: string }
export interface Gold { key: string; task: string; persona: string; text: string }
/** Questions (assistant) and replies (user), without the instruction or the task. */
export type Turns = ChatMessage[];
export interface Conversations { key: string; rounds: number; conversations: Turns[] }
export interface Logprobs { key: string; logprobs: number[] }
export interface Top1 { key: string; index: number; logprob: number }
export interface Regularizer { key: string; text: string }
export interface SftExample { key: string; messages: ChatMessage[] }
export interface Response { key: string; group: number; conversation: number; text: string }
export interface Judgment { key: string; group: number; modelShownAs: 'A' | 'B'; winner: 'model' | 'baseline' | 'tie' | 'unparseable' | 'no-answer'; raw: string | null }
