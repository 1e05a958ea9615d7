// Bounded label values, shared by the Prometheus metrics and the OpenTelemetry attributes.

/** A close code as a label: the codes RFC 6455 and its registry define as themselves, the application ranges by class. */
export function closeCodeLabel(code: number): string {
  if (code >= 1000 && code <= 1015) return String(code);
  if (code >= 3000 && code <= 3999) return '3xxx';
  if (code >= 4000 && code <= 4999) return '4xxx';
  return 'other';
}
