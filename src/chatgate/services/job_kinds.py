"""The kinds of job the delivery engine runs."""

SEND_JOB = "send"
RECEIPT_JOB = "receipt"
FALLBACK_CHECK_JOB = "fallback_check"
MEDIA_FETCH_JOB = "media_fetch"
STATUS_MATCH_JOB = "status_match"
ACKNOWLEDGE_JOB = "acknowledge"
RESULT_POLL_JOB = "result_poll"
