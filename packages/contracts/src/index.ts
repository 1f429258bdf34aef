export { MailSendV1, MailWelcomeV1, EmailAddress } from './mail'
export { EMAIL_ADDRESS_PATTERN, isEmailAddress } from './formats'
export { JobLogV1, JobCallbackV1, JobEmailV1, JobId, JobData } from './job'
export { ImageThumbnailsV1, ImageId } from './image'
export {
  MESSAGE_SCHEMAS,
  MESSAGE_TYPES,
  MalformedMessageError,
  isMessageType,
  validateMessage,
  type MessagePayload,
  type MessageType
} from './registry'
export {
  AttemptOutcome, MailAttemptBody, SuppressionReason, SuppressionBody, RecipientMailBody, MessageMailBody, SuppressionListBody, SuppressRequestBody
} from './admin-mail'
