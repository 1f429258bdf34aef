export { addressKey, mailboxKey, domainOf } from './addresses'
export { verpReturnPath, parseVerpAddress, type VerpConfig, type VerpRejection } from './verp'
export {
  SuppressionList, SUPPRESSION_REASONS, BOUNCE_POLICY,
  type Suppression, type SuppressionReason, type BounceKind, type BounceReport
} from './suppression-list'
export { DeliveryAttempts, ATTEMPT_OUTCOMES, type AttemptOutcome, type DeliveryAttempt, type LoggedAttempt } from './delivery-attempts'
