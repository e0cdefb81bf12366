/**
 * The questions the questioner asks and how any role tells what a question is about. The
 * world's own questions come from fixed templates and are recognised exactly; other wording
 * (an assistant turn written by someone else) falls back to keywords. No template names a
 * value, so asking never reveals anything: only the roleplayer's reply does.
 */
import {ATTRIBUTES, type Attribute} from './attributes.js';
import {escapeRegExp} from './recognise.js';

export const QUESTION_TEMPLATES: Readonly<Record<Attribute, readonly string[]>> = {
  diet: [
    'Do you follow any particular diet?',
    'Are there any foods you avoid, or dietary preferences I should know about?',
    'What does your usual diet look like?',
  ],
  budget: [
    'What kind of budget are you working with?',
    'How much are you hoping to spend?',
    'Is cost a big concern for you, or do you have room to splurge?',
  ],
  city: [
    'Which city do you live in?',
    'Where are you based?',
    'Which city or area are you located in?',
  ],
  job: [
    'What do you do for work?',
    'What is your job or profession?',
    'What line of work are you in?',
  ],
  hobby: [
    'What do you like to do in your free time?',
    'Do you have any hobbies you love?',
    'What activities do you enjoy outside of work?',
  ],
  family: [
    'Who lives in your household?',
    'Do you have kids or other family members at home?',
    'Can you tell me a bit about your family?',
  ],
  fitness: [
    'How active are you these days?',
    'Do you have any fitness goals or physical limitations?',
    'What does your exercise routine look like?',
  ],
  schedule: [
    'What does your typical weekly schedule look like?',
    'What hours do you usually keep?',
    'Are your days fairly predictable, or do your hours change a lot?',
  ],
};

/** Asked once every attribute has been covered: it invites no particular fact. */
export const OPEN_QUESTION = 'Is there anything else you would like me to know before I answer?';

/** Words that point a question at an attribute; a phrase of k words counts k times. */
const KEYWORDS: Readonly<Record<Attribute, readonly string[]>> = {
  diet: ['diet', 'dietary', 'eat', 'eating', 'food', 'foods', 'allergy', 'allergies', 'cuisine', 'vegetarian', 'vegan'],
  budget: ['budget', 'spend', 'spending', 'afford', 'cost', 'costs', 'price', 'money', 'splurge', 'expensive'],
  city: ['city', 'located', 'based', 'town', 'neighborhood', 'region', 'area', 'live'],
  job: ['job', 'profession', 'career', 'occupation', 'work', 'for work', 'line of work', 'for a living'],
  hobby: ['hobby', 'hobbies', 'free time', 'spare time', 'enjoy', 'fun', 'interests', 'activities', 'pastime', 'passion'],
  family: ['family', 'household', 'kids', 'children', 'child', 'partner', 'live with', 'relatives', 'parents'],
  fitness: ['fitness', 'exercise', 'active', 'workout', 'physical', 'injury', 'injuries', 'athletic', 'sport', 'sports', 'shape'],
  schedule: ['schedule', 'hours', 'availability', 'available', 'busy', 'time of day', 'weekdays', 'shift', 'shifts'],
};

const KEYWORD_PATTERNS = ATTRIBUTES.map((attribute) => ({
  attribute,
  patterns: KEYWORDS[attribute].map((k) => ({weight: k.split(' ').length, re: new RegExp(`(?<![\\p{L}])${escapeRegExp(k)}(?![\\p{L}])`, 'giu')})),
}));

const normalize = (s: string): string => s.replace(/\s+/g, ' ').trim().toLowerCase();

const TEMPLATES: readonly {attribute: Attribute | 'open'; text: string}[] = [
  ...ATTRIBUTES.flatMap((attribute) => QUESTION_TEMPLATES[attribute].map((t) => ({attribute, text: normalize(t)}))),
  {attribute: 'open' as const, text: normalize(OPEN_QUESTION)},
];

/** Which of the world's own questions a sentence contains, if any (`open` for the catch-all). */
export function matchTemplate(sentence: string): Attribute | 'open' | undefined {
  const s = normalize(sentence);
  return TEMPLATES.find((t) => s.includes(t.text))?.attribute;
}

/**
 * What a question is about by keywords: the attribute with the most keyword weight, the earliest
 * keyword breaking ties. Undefined when no keyword appears.
 */
export function classifyByKeywords(sentence: string): Attribute | undefined {
  let best: {attribute: Attribute; score: number; first: number} | undefined;
  for (const {attribute, patterns} of KEYWORD_PATTERNS) {
    let score = 0;
    let first = Infinity;
    for (const {weight, re} of patterns) {
      for (const m of sentence.matchAll(re)) {
        score += weight;
        first = Math.min(first, m.index);
      }
    }
    if (score > 0 && (!best || score > best.score || (score === best.score && first < best.first))) best = {attribute, score, first};
  }
  return best?.attribute;
}

/** What a question asks about: a template exactly, else keywords. */
export function classifyQuestion(sentence: string): Attribute | 'open' | undefined {
  return matchTemplate(sentence) ?? classifyByKeywords(sentence);
}
