"""The requests MessageHub's page shows, exactly as it shows them (``seeds/002_…``).

Each is run as written, with only the base URL and the key put in: the curl commands by a
shell, the JavaScript by Node (its ``fetch``), the Python by Python (``requests``).
"""

from __future__ import annotations

PAGE_BASE = "https://your-domain.com/api/v1"
PAGE_KEY = "cpk_live_your_api_key"

CURL_SEND = """curl -X POST https://your-domain.com/api/v1/messages/send \\
  -H "Authorization: Bearer cpk_live_your_api_key" \\
  -H "Content-Type: application/json" \\
  -d '{
    "to": "+919876543210",
    "channel": "whatsapp",
    "content": "Hello from MessageHub API!"
  }'"""

CURL_STATUS = """curl https://your-domain.com/api/v1/messages/msg_abc123 \\
  -H "Authorization: Bearer cpk_live_your_api_key\""""

NODE_SEND = """const response = await fetch('https://your-domain.com/api/v1/messages/send', {
  method: 'POST',
  headers: {
    'Authorization': 'Bearer cpk_live_your_api_key',
    'Content-Type': 'application/json',
  },
  body: JSON.stringify({
    to: '+919876543210',
    channel: 'whatsapp',
    content: 'Hello! Your order #1234 has been shipped.',
  }),
});

const data = await response.json();
console.log(data);
// { data: { messageId: "msg_abc123", channel: "whatsapp", status: "sent" } }"""

PYTHON_SEND = """import requests

response = requests.post(
    'https://your-domain.com/api/v1/messages/send',
    headers={
        'Authorization': 'Bearer cpk_live_your_api_key',
        'Content-Type': 'application/json',
    },
    json={
        'to': '+919876543210',
        'channel': 'whatsapp',
        'content': 'Hello! Your order #1234 has been shipped.',
    }
)

print(response.json())"""

WHATSAPP_TEMPLATE = """await fetch('https://your-domain.com/api/v1/messages/send', {
  method: 'POST',
  headers: {
    'Authorization': 'Bearer cpk_live_your_api_key',
    'Content-Type': 'application/json',
  },
  body: JSON.stringify({
    to: '+919876543210',
    channel: 'whatsapp',
    contentType: 'template',
    templateId: 'order_confirmation',
    templateParams: {
      customer_name: 'Rajesh',
      order_id: '1234',
      delivery_date: '2026-02-15',
    },
  }),
});"""

KAKAO = """// AlimTalk - Transactional notification (requires Kakao-approved template)
await fetch('https://your-domain.com/api/v1/messages/send', {
  method: 'POST',
  headers: {
    'Authorization': 'Bearer cpk_live_your_api_key',
    'Content-Type': 'application/json',
  },
  body: JSON.stringify({
    to: '+821012345678',
    channel: 'kakao',
    contentType: 'template',
    templateId: 'order_confirm_001',
    templateParams: {
      '고객명': 'Kim Minjun',
      '주문번호': 'ORD-5678',
      '상품명': 'Galaxy Watch 7',
      '금액': '399,000',
    },
  }),
});

// Brand Message - Marketing (replaced FriendTalk, Dec 2025)
await fetch('https://your-domain.com/api/v1/messages/send', {
  method: 'POST',
  headers: {
    'Authorization': 'Bearer cpk_live_your_api_key',
    'Content-Type': 'application/json',
  },
  body: JSON.stringify({
    to: '+821012345678',
    channel: 'kakao',
    content: '특별 할인! 30% 쿠폰을 지금 받아가세요.',
    contentType: 'brandmessage',
  }),
});"""

# What the page's AlimTalk example fills the template with, and its brand message's text.
ALIMTALK_PARAMETERS = {
    "고객명": "Kim Minjun",
    "주문번호": "ORD-5678",
    "상품명": "Galaxy Watch 7",
    "금액": "399,000",
}
BRAND_TEXT = "특별 할인! 30% 쿠폰을 지금 받아가세요."

# Node runs a snippet as written; this records each answer its fetch calls got, so that
# snippets that drop the answer (`await fetch(...)`) can be checked too.
NODE_PRELUDE = """const answers = [];
const pageFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const answer = await pageFetch(...args);
  const headers = Object.fromEntries(answer.headers.entries());
  answers.push({ status: answer.status, headers, body: await answer.clone().json() });
  return answer;
};
"""
NODE_EPILOGUE = """
process.stdout.write('\\n' + JSON.stringify(answers) + '\\n');
"""


def substituted(snippet: str, base: str, key: str) -> str:
    """The snippet with the gateway's base URL and key in place of the page's."""
    return snippet.replace(PAGE_BASE, base).replace(PAGE_KEY, key)
