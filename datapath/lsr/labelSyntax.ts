// Label lists as iproute2 reads them (lib/mpls_pton.c), with the kernel's range checks and
// wgmpls's rules for reserved labels.
import { MplsLabel } from '../mpls/wire';
import { FIRST_UNRESERVED_LABEL, MAX_LABEL, MAX_LABEL_STACK } from './model';
import { fail, q, strtoulWhole } from './syntaxUtil';

// ---------------------------------------------------------------------------------------
// Labels.

/** Parses "L1/L2/..." (outermost first) like mpls_pton; checks syntax, range and count only. */
export function parseLabelList(text: string): number[] {
  const parts = text.split('/');
  const labels: number[] = [];
  for (const part of parts) {
    const v = strtoulWhole(part);
    if (v === null) fail(`malformed label stack ${q(text)}`);
    labels.push(v);
  }
  for (const v of labels) {
    if (!(v <= MAX_LABEL)) fail(`label ${Number.isFinite(v) ? v : text} is out of range (max ${MAX_LABEL})`);
  }
  if (labels.length > MAX_LABEL_STACK) fail(`too many labels (${labels.length} > ${MAX_LABEL_STACK})`);
  return labels;
}

function reservedLabel(v: number): never {
  fail(`label ${v} is reserved (0-${FIRST_UNRESERVED_LABEL - 1}); use ${FIRST_UNRESERVED_LABEL}-${MAX_LABEL}`);
}

/** An incoming label (the key of an ILM entry): one label, 16 or more, as Linux requires. */
export function parseIncomingLabel(text: string): number {
  if (text.includes('/') && strtoulWhole(text.split('/')[0]) !== null) {
    fail(`incoming label must be a single label, not ${q(text)}`);
  }
  const [label] = parseLabelList(text);
  if (label < FIRST_UNRESERVED_LABEL) reservedLabel(label);
  return label;
}

/**
 * An outgoing stack (`as` or `encap mpls`): explicit null 0/2 allowed anywhere, implicit null 3
 * only alone (meaning: no label, i.e. pop / push nothing), other reserved labels refused.
 */
export function parseOutgoingLabels(text: string): number[] {
  const labels = parseLabelList(text);
  if (labels.length === 1 && labels[0] === MplsLabel.IMPLICIT_NULL) return [];
  for (const v of labels) {
    if (v === MplsLabel.IMPLICIT_NULL) fail(`label 3 (implicit null) is only allowed alone, in ${q(text)}`);
    if (v < FIRST_UNRESERVED_LABEL && v !== MplsLabel.IPV4_EXPLICIT_NULL && v !== MplsLabel.IPV6_EXPLICIT_NULL) reservedLabel(v);
  }
  return labels;
}

