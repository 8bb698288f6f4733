// Command templates are argv arrays whose elements may hold `${name}` placeholders (`$$` is a literal
// `$`). Parsing is separate from filling so the registry can be checked before anything runs.

type TemplatePart = { readonly text: string } | { readonly name: string };

/** The placeholders every template may use; `target.<field>` reads the selected owning-file entry. */
export const STATIC_PLACEHOLDERS = [
  'follower.id',
  'adapter.id',
  'source.repo',
  'source.branch',
  'source.mirror',
] as const;
/** Placeholders known only while a pass acts on one sha (adapter commands only). */
export const PASS_PLACEHOLDERS = ['sha', 'snapshotRef'] as const;
export const TARGET_PREFIX = 'target.';

const NAME = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9_-]*)?$/;

type Parsed = { readonly parts: readonly TemplatePart[] } | { readonly error: string };

// Every follower's commands repeat the same few elements ("--lane", "${target.lane}"): each distinct
// element is parsed once, and its (never changed) parts shared by every caller.
const parsedElements = new Map<string, Parsed>();

/** Splits one argv element into text and placeholders, or says why it cannot. */
export function parseTemplate(element: string): Parsed {
  let parsed = parsedElements.get(element);
  if (parsed === undefined) {
    parsed = splitTemplate(element);
    parsedElements.set(element, parsed);
  }
  return parsed;
}

function splitTemplate(element: string): Parsed {
  const parts: TemplatePart[] = [];
  let text = '';
  for (let i = 0; i < element.length; i++) {
    const c = element[i];
    if (c !== '$') {
      text += c;
      continue;
    }
    const next = element[i + 1];
    if (next === '$') {
      text += '$';
      i++;
      continue;
    }
    if (next !== '{') {
      return { error: `a '$' must start \${name} or be doubled as '$$' (in ${JSON.stringify(element)})` };
    }
    const end = element.indexOf('}', i + 2);
    if (end < 0) return { error: `unclosed placeholder in ${JSON.stringify(element)}` };
    const name = element.slice(i + 2, end);
    if (!NAME.test(name)) return { error: `malformed placeholder \${${name}} in ${JSON.stringify(element)}` };
    if (text) parts.push({ text });
    text = '';
    parts.push({ name });
    i = end;
  }
  if (text) parts.push({ text });
  return { parts };
}

/** The placeholder names one argv element uses (assumes it parsed). */
export function placeholderNames(element: string): string[] {
  const parsed = parseTemplate(element);
  if ('error' in parsed) return [];
  return parsed.parts.flatMap((p) => ('name' in p ? [p.name] : []));
}

/** Fills every placeholder of an argv template; an unknown name is an error, never an empty string. */
export function renderArgv(template: readonly string[], values: ReadonlyMap<string, string>): string[] {
  return template.map((element) => {
    if (!element.includes('$')) return element;
    const parsed = parseTemplate(element);
    if ('error' in parsed) throw new Error(parsed.error);
    return parsed.parts
      .map((p) => {
        if ('text' in p) return p.text;
        const v = values.get(p.name);
        if (v === undefined) throw new Error(`no value for placeholder \${${p.name}}`);
        return v;
      })
      .join('');
  });
}
