// replaced by the mailer service
