/**
 * The requests users bring, each with the attributes a good answer depends on. Tasks are grouped
 * into domains because the questioner's policy is per domain: what it learns on the training
 * splits carries over to the test split's unseen tasks of the same domain.
 *
 * The shipped `data/demo/tasks.jsonl` lists the tasks in `TASKS` order, interleaved by domain so
 * that rows 0–11 (split A), 12–23 (split B) and 24–29 (test) each cover every domain.
 */
import type {Attribute} from './attributes.js';

export const DOMAINS = ['meals', 'travel', 'fitness', 'career', 'gifts', 'leisure'] as const;

export type Domain = (typeof DOMAINS)[number];

export interface Task {
  /** The row of `data/demo/tasks.jsonl` that holds this task. */
  readonly index: number;
  readonly text: string;
  readonly domain: Domain;
  /** What an answer should take into account; the oracle states exactly these. */
  readonly relevant: readonly Attribute[];
}

type Row = readonly [text: string, relevant: readonly Attribute[]];

/** Five tasks per domain; the n-th task of each domain lands in rows 6n..6n+5. */
const BY_DOMAIN: Readonly<Record<Domain, readonly Row[]>> = {
  meals: [
    ['Can you suggest a weekly meal plan for me?', ['diet', 'budget', 'family']],
    ['What should I cook for dinner this week?', ['diet', 'family']],
    ['Can you help me put together a grocery list for the week?', ['diet', 'budget', 'family']],
    ['What are some easy lunches I could pack ahead of time?', ['diet', 'budget']],
    ['Could you plan a menu for a dinner party I am hosting?', ['diet', 'budget', 'family']],
  ],
  travel: [
    ['Where should I go for a long weekend getaway?', ['budget', 'city', 'hobby']],
    ['Can you help me plan a summer vacation?', ['budget', 'hobby']],
    ['What is a good day trip I could take this month?', ['city', 'hobby']],
    ['How should I plan a trip abroad next spring?', ['budget', 'hobby', 'city']],
    ['Can you recommend a destination for my next vacation?', ['budget', 'city', 'hobby']],
  ],
  fitness: [
    ['Can you design a workout routine for me?', ['fitness', 'schedule']],
    ['How can I get in better shape this year?', ['fitness', 'schedule', 'diet']],
    ['What is a realistic plan for me to lose ten pounds?', ['fitness', 'diet', 'schedule']],
    ['How can I build more exercise into my week?', ['fitness', 'schedule']],
    ['Could you suggest a stretching and strength plan for me?', ['fitness', 'schedule', 'diet']],
  ],
  career: [
    ['How can I advance in my career over the next year?', ['job', 'schedule']],
    ['Should I consider changing jobs?', ['job', 'city', 'schedule']],
    ['Can you help me prepare for my performance review?', ['job', 'schedule']],
    ['What skills should I learn to grow professionally?', ['job', 'schedule', 'city']],
    ['How can I grow my professional network?', ['job', 'city']],
  ],
  gifts: [
    ['What should I get my family for the holidays?', ['family', 'budget']],
    ['What is a good gift I could treat myself to?', ['hobby', 'budget']],
    ['What should I put on my wish list this year?', ['hobby', 'budget', 'family']],
    ['How should I celebrate my birthday this year?', ['hobby', 'family', 'budget']],
    ['What are some thoughtful gift ideas for the people I live with?', ['family', 'budget', 'hobby']],
  ],
  leisure: [
    ['What are some fun things I could do this weekend?', ['hobby', 'city', 'schedule']],
    ['How can I meet new people in my area?', ['city', 'hobby']],
    ['Can you suggest a new hobby I might enjoy?', ['hobby', 'schedule']],
    ['How should I spend my evenings to unwind?', ['hobby', 'schedule', 'family']],
    ['What local events or activities would you recommend for me?', ['city', 'hobby', 'schedule']],
  ],
};

const PER_DOMAIN = 5;

/** Every task, in row order. */
export const TASKS: readonly Task[] = Array.from({length: PER_DOMAIN * DOMAINS.length}, (_, index) => {
  const domain = DOMAINS[index % DOMAINS.length]!;
  const [text, relevant] = BY_DOMAIN[domain][Math.floor(index / DOMAINS.length)]!;
  return {index, text, domain, relevant};
});

/**
 * General advice per domain: the body of an oracle or answerer response, after the sentence
 * that states what it knows about the user. It names no attribute value.
 */
export const DOMAIN_ADVICE: Readonly<Record<Domain, string>> = {
  meals: 'Plan three simple dinners you can cook in larger batches, keep two quick breakfasts on rotation, and reuse ingredients across the week so little goes to waste. Shop once with a list and prep vegetables on the first evening.',
  travel: 'Pick a destination within easy reach, plan one anchor activity per day, and leave afternoons open for wandering. Book lodging early and keep a short list of backup options in case the weather turns.',
  fitness: 'Start with three short sessions a week that mix strength and mobility, then add time as it starts to feel easier. Note how you feel after each session and adjust the load rather than pushing through pain.',
  career: 'Write down the two outcomes you want this year, raise them with your manager early, and collect concrete examples of your impact as you go. Set aside a small, regular block of time for learning.',
  gifts: 'Choose something that fits how the people involved actually spend their days, add a short personal note, and favor one thoughtful item over several small ones.',
  leisure: 'Try one new activity each week, keep a short list of nearby options for spontaneous evenings, and invite someone along so it becomes a habit.',
};

/** The task whose text is exactly `text` (surrounding whitespace ignored), if any. */
export function taskByText(text: string): Task | undefined {
  const wanted = normalizeSpace(text);
  return TASKS.find((t) => t.text === wanted);
}

/**
 * The tasks as rows in the format of the Dahoas `instruct-human-assistant-prompt` dataset, the
 * source of the paper's tasks: a transcript whose first human turn is the task.
 */
export function taskRows(): {prompt: string}[] {
  return TASKS.map((t) => ({prompt: `Human: ${t.text}\n\nAssistant: I would be glad to help with that.`}));
}

export function normalizeSpace(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
