import { simpleParser, type Attachment, type HeaderValue } from 'mailparser'
import { parseFieldGroups } from './report-fields'
import { deliveryStatusVerdict, feedbackReportVerdict, type Verdict } from './verdict'

/** The machine-readable part each report type carries (RFC 6533's global variant is UTF-8). */
const REPORT_PARTS: Record<string, { parts: string[]; verdict: typeof deliveryStatusVerdict }> = {
  'delivery-status': { parts: ['message/delivery-status', 'message/global-delivery-status'], verdict: deliveryStatusVerdict },
  'global-delivery-status': { parts: ['message/global-delivery-status', 'message/delivery-status'], verdict: deliveryStatusVerdict },
  'feedback-report': { parts: ['message/feedback-report'], verdict: feedbackReportVerdict }
}

function contentType(value: HeaderValue | undefined): { value: string; params: Record<string, string> } | undefined {
  if (!value || typeof value !== 'object' || !('value' in value)) return undefined
  return { value: String(value.value).toLowerCase(), params: (value as { params?: Record<string, string> }).params ?? {} }
}

/**
 * Reads one received message and says what it reports. Never throws: a
 * message that is not a report, does not parse, or lacks the part or field
 * a verdict needs is `malformed` (the receiver still answers 250, so the
 * sending MTA does not retry it forever).
 */
export async function parseReport(raw: Buffer): Promise<Verdict> {
  let attachments: Attachment[]
  let type: ReturnType<typeof contentType>
  try {
    // keepDeliveryStatus: the report part stays an attachment with its raw text, instead of joining the body text.
    const mail = await simpleParser(raw, { keepDeliveryStatus: true, skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true })
    type = contentType(mail.headers.get('content-type'))
    attachments = mail.attachments
  } catch (err) {
    return { outcome: 'malformed', why: `unparseable: ${(err as Error).message.slice(0, 200)}` }
  }
  if (type?.value !== 'multipart/report') return { outcome: 'malformed', why: `not a report (${type?.value ?? 'no content type'})` }
  const reportType = type.params['report-type']?.toLowerCase()
  const expected = reportType ? REPORT_PARTS[reportType] : undefined
  if (!expected) return { outcome: 'malformed', why: `unknown report-type "${(reportType ?? '').slice(0, 40)}"` }
  const part = attachments.find((a) => expected.parts.includes(a.contentType.toLowerCase()))
  if (!part) return { outcome: 'malformed', why: `a ${reportType} report without its ${expected.parts[0]} part` }
  return expected.verdict(parseFieldGroups(part.content.toString('utf8')))
}
