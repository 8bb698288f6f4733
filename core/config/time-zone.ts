// Whether the runtime's time zone database knows the name (Kubernetes checks it against its own).
// Intl's list of canonical zones takes ~2 ms; a formatter, the only check of any other name (an alias
// such as Etc/UTC), takes ~25 ms of ICU data, paid by every verb that reads the registry. The names of
// UTC are aliases, and the most used: they are known here (and each one is checked against a formatter
// by the tests).
export const UTC_NAMES: ReadonlySet<string> = new Set([
  'UTC',
  'Etc/UTC',
  'Etc/UCT',
  'Etc/Universal',
  'Etc/Zulu',
  'Etc/GMT',
  'Etc/GMT0',
  'Etc/GMT+0',
  'Etc/GMT-0',
  'Etc/Greenwich',
  'GMT',
  'UCT',
  'Universal',
  'Zulu',
]);
let canonicalZones: ReadonlySet<string> | undefined;

/** Whether Intl (ICU) knows the IANA time zone `name`. */
export function isTimeZone(name: string): boolean {
  if (UTC_NAMES.has(name)) return true;
  canonicalZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (canonicalZones.has(name)) return true;
  return formatterKnows(name);
}

/** The slow and complete check: a formatter of the zone can be made. */
export function formatterKnows(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return name.length > 0;
  } catch {
    return false;
  }
}
