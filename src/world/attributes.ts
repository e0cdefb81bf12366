/**
 * The facts a persona is made of. Each attribute has a handful of values, and each value has a
 * distinctive phrase plus the fixed sentences the world writes about it: first person for
 * personas and roleplayer replies, second person for oracle and answerer responses.
 *
 * The phrase is what every role recognises ("vegan diet" wherever it appears means the diet is
 * vegan), and it appears verbatim in both sentence forms. That single rule is what makes the
 * scorer's log-probs meaningful: an oracle response repeats phrases the conversation revealed.
 * No other text the world writes may contain a phrase (a unit test checks this).
 */

export const ATTRIBUTES = ['diet', 'budget', 'city', 'job', 'hobby', 'family', 'fitness', 'schedule'] as const;

export type Attribute = (typeof ATTRIBUTES)[number];

export interface AttributeValue {
  readonly attribute: Attribute;
  /** The words that identify this value anywhere in a text (matched as whole words, any case). */
  readonly phrase: string;
  /** How a persona or a roleplayer states it: `I follow a vegan diet.` */
  readonly firstPerson: string;
  /** How a response addresses it, without a final stop: `you follow a vegan diet`. */
  readonly secondPerson: string;
}

/** How the judge names an attribute in its comparison sentence. */
export const ATTRIBUTE_LABELS: Readonly<Record<Attribute, string>> = {
  diet: 'diet', budget: 'budget', city: 'city', job: 'job', hobby: 'hobbies', family: 'household', fitness: 'fitness', schedule: 'schedule',
};

type Spec = readonly (readonly [phrase: string, firstPerson: string, secondPerson: string])[];

/** Values whose sentences share one template; `{v}` is replaced by the text given (or the phrase). */
function templated(first: string, second: string, values: readonly (string | readonly [phrase: string, text: string])[]): Spec {
  return values.map((v) => {
    const [phrase, text] = typeof v === 'string' ? [v, v] : v;
    return [phrase, first.replace('{v}', text), second.replace('{v}', text)] as const;
  });
}

const SPECS: Readonly<Record<Attribute, Spec>> = {
  diet: templated('I follow a {v}.', 'you follow a {v}',
    ['vegan diet', 'vegetarian diet', 'pescatarian diet', 'keto diet', 'gluten-free diet', 'low-sodium diet']),
  budget: templated('I have a {v}.', 'you have a {v}',
    ['shoestring budget', 'tight budget', 'modest budget', 'comfortable budget', 'generous budget']),
  city: templated('I live in {v}.', 'you live in {v}', ['Chicago', 'Seattle', 'Denver', 'Boston', 'Phoenix', 'Minneapolis']),
  job: templated('I work as {v}.', 'you work as {v}', [
    ['nurse', 'a nurse'], ['software engineer', 'a software engineer'], ['high school teacher', 'a high school teacher'],
    ['accountant', 'an accountant'], ['electrician', 'an electrician'], ['graphic designer', 'a graphic designer'],
  ]),
  hobby: templated('In my free time I enjoy {v}.', 'you enjoy {v} in your free time',
    ['rock climbing', 'gardening', 'watercolor painting', 'chess', 'birdwatching', 'woodworking']),
  family: [
    ['two toddlers', 'I am raising two toddlers.', 'you are raising two toddlers'],
    ['three teenagers', 'I am raising three teenagers.', 'you are raising three teenagers'],
    ['newborn baby', 'I have a newborn baby at home.', 'you have a newborn baby at home'],
    ['elderly parents', 'I care for my elderly parents.', 'you care for your elderly parents'],
    ['no children', 'I live alone and have no children.', 'you live alone and have no children'],
  ],
  fitness: [
    ['mostly sedentary', 'I am mostly sedentary.', 'you are mostly sedentary'],
    ['knee injury', 'I am recovering from a knee injury.', 'you are recovering from a knee injury'],
    ['marathon', 'I am training for a marathon.', 'you are training for a marathon'],
    ['yoga every morning', 'I do yoga every morning.', 'you do yoga every morning'],
    ['weightlifting', 'I go weightlifting four times a week.', 'you go weightlifting four times a week'],
  ],
  schedule: [
    ['night shifts', 'I work night shifts.', 'you work night shifts'],
    ['nine-to-five', 'I keep a regular nine-to-five schedule.', 'you keep a regular nine-to-five schedule'],
    ['long commute', 'I have a long commute every day.', 'you have a long commute every day'],
    ['only free on weekends', 'I am only free on weekends.', 'you are only free on weekends'],
    ['flexible hours', 'I work from home with flexible hours.', 'you work from home with flexible hours'],
  ],
};

/** Every value of every attribute, in attribute order. */
export const VALUES: readonly AttributeValue[] = ATTRIBUTES.flatMap((attribute) =>
  SPECS[attribute].map(([phrase, firstPerson, secondPerson]) => ({attribute, phrase, firstPerson, secondPerson})));

/** The values of one attribute. */
export function valuesOf(attribute: Attribute): readonly AttributeValue[] {
  return VALUES.filter((v) => v.attribute === attribute);
}

export function isAttribute(s: string): s is Attribute {
  return (ATTRIBUTES as readonly string[]).includes(s);
}

/** A persona's facts: one value per attribute (some may be unknown when parsed from partial text). */
export type Facts = Partial<Record<Attribute, AttributeValue>>;
