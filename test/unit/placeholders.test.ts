import { describe, expect, it } from 'vitest';
import { parseTemplate, placeholderNames, renderArgv } from '../../core/config/placeholders.ts';

describe('command templates', () => {
  it('fills placeholders inside and across argv elements, never splitting an element', () => {
    const values = new Map([
      ['target.node', 'JD01'],
      ['sha', 'abc 123'],
    ]);
    expect(renderArgv(['hwlab', '--node=${target.node}', '${sha}', 'x${sha}y'], values)).toEqual([
      'hwlab',
      '--node=JD01',
      'abc 123',
      'xabc 123y',
    ]);
  });

  it('keeps `$$` as one literal dollar and leaves shell syntax alone', () => {
    expect(renderArgv(['echo', '$$HOME', '`id`;', '$${sha}'], new Map())).toEqual(['echo', '$HOME', '`id`;', '${sha}']);
  });

  it('refuses to render an unknown placeholder rather than leaving it empty', () => {
    expect(() => renderArgv(['${sha}'], new Map())).toThrow('no value for placeholder ${sha}');
  });

  it.each([
    ['$sha', /must start \$\{name\} or be doubled/],
    ['${sha', /unclosed placeholder/],
    ['${}', /malformed placeholder/],
    ['${1abc}', /malformed placeholder/],
    ['${a.b.c}', /malformed placeholder/],
    ['trailing $', /must start \$\{name\} or be doubled/],
  ])('rejects %s', (element, message) => {
    const parsed = parseTemplate(element);
    expect('error' in parsed && parsed.error).toMatch(message);
  });

  it('lists the names an element uses', () => {
    expect(placeholderNames('${follower.id}-${target.lane}')).toEqual(['follower.id', 'target.lane']);
    expect(placeholderNames('plain')).toEqual([]);
  });
});
