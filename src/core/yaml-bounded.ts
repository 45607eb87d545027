/**
 * One YAML document, read with a budget that is applied while it is read. The `yaml`
 * package's own parseDocument lexes, parses and composes the whole text before anyone
 * can count what is in it; here its three stages (Lexer → Parser → Composer, its public
 * streaming API) run as one pipeline and the tokens are counted as the lexer yields
 * them, so a text with too many keys and values is refused before the parser has built
 * more than the budget, in time linear in the part that was read.
 *
 * Also here, because the library's is quadratic: which node each alias names. The
 * library's `Alias.resolve(doc)` walks the document up to the alias on every call (5,000
 * aliases took 1.7 s, 40,000 took 31 s); `aliasTargets` finds them all in one walk.
 */
import {
  type Alias,
  Composer,
  CST,
  type Document,
  isAlias,
  Lexer,
  type LineCounter,
  type Node,
  Parser,
  visit,
  YAMLParseError,
} from 'yaml';

/**
 * The tokens that make a node: scalars (keys and values alike), aliases, the start of a
 * flow collection, and the marks that open an item or a pair, possibly with an empty
 * value (`-`, `?`, `:`, `,`). Blanks, comments, anchors and tags are free.
 */
const COUNTED = new Set([
  'scalar',
  'single-quoted-scalar',
  'double-quoted-scalar',
  'alias',
  'flow-map-start',
  'flow-seq-start',
  'seq-item-ind',
  'explicit-key-ind',
  'map-value-ind',
  'comma',
]);

export interface BoundedYamlOptions {
  lineCounter: LineCounter;
  /** The most COUNTED tokens the text may have. */
  maxTokens: number;
  /** The error to throw when the budget is spent, given the offset it was spent at. */
  tooMany: (offset: number) => Error;
}

/**
 * Like `parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false })`,
 * with the token budget. Keys are not checked for repeats here (the library compares
 * each key with every earlier one of its mapping): the caller does it with a lookup.
 */
export function parseBoundedDocument(text: string, options: BoundedYamlOptions): Document.Parsed {
  const { lineCounter, maxTokens, tooMany } = options;
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer({ prettyErrors: false, uniqueKeys: false });
  function* tokens(): Generator<CST.Token> {
    lineCounter.addNewLine(0);
    let counted = 0;
    for (const lexeme of new Lexer().lex(text)) {
      if (COUNTED.has(CST.tokenType(lexeme) ?? '') && ++counted > maxTokens) {
        throw tooMany(parser.offset);
      }
      yield* parser.next(lexeme);
    }
    yield* parser.end();
  }
  let doc: Document.Parsed | undefined;
  for (const next of composer.compose(tokens(), true, text.length)) {
    if (!doc) doc = next;
    else {
      doc.errors.push(
        new YAMLParseError(
          [next.range[0], next.range[1]],
          'MULTIPLE_DOCS',
          'Source contains multiple documents',
        ),
      );
      break;
    }
  }
  // compose(…, forceDoc = true) yields a document for any text, an empty one included.
  return doc!;
}

/**
 * The node each alias of `doc` names: the last node before it (in document order) that
 * carries its anchor, as `Alias.resolve` defines it, or undefined. One walk.
 */
export function aliasTargets(doc: Document): Map<Alias, Node | undefined> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node | undefined>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) targets.set(node, anchors.get(node.source));
      else if (node.anchor) anchors.set(node.anchor, node);
    },
  });
  return targets;
}
