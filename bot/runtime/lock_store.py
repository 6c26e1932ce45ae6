"""A Redis lock store whose tickets are issued and returned atomically, for several replicas.

Rasa processes one conversation's messages one after another by giving each message a ticket
of the conversation's `TicketLock`. Rasa 3.6's `RedisLockStore` keeps that lock as one JSON
value, but issues a ticket by reading the value, adding the ticket in Python and writing the
value back (and returns tickets the same way). Two replicas doing that at once can both read
the same lock: both get the same ticket number, or one's ticket is overwritten, and the same
conversation is then processed twice at the same time (RasaHQ/rasa#9213; the fix went to Rasa
Pro only). Here every change to a lock (issue, prune expired tickets, finish serving, clean
up) is one Lua script, which Redis runs atomically, on the same JSON value in the same format,
so Rasa's own reading of the lock (`get_lock`, `is_locked`) is unchanged.

Times are the caller's clock (`time.time()`), as Rasa's own expiry checks use; the replicas'
clocks must agree to within a lock's lifetime.

endpoints.yml:

    lock_store:
      type: bot.runtime.lock_store.AtomicRedisLockStore
      url: 127.0.0.1
      port: 6379
"""

from __future__ import annotations

import time
from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# KEYS[1]: the lock's key. ARGV: operation, now, conversation id, number or lifetime.
# Returns the new ticket's number for "issue", else 0. The value is Rasa's TicketLock JSON:
# {"conversation_id": ..., "tickets": ["{\"number\": 0, \"expires\": ...}", ...]}.
_SCRIPT = """
local key, op, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local raw = redis.call('GET', key)
if not raw and op ~= 'issue' then return 0 end
local lock = raw and cjson.decode(raw) or {conversation_id = ARGV[3], tickets = {}}
local tickets = {}
for _, text in ipairs(lock.tickets or {}) do
  local ticket = cjson.decode(text)
  if ticket.expires >= now then table.insert(tickets, ticket) end
end
local result = 0
if op == 'issue' then
  local number = 0
  if #tickets > 0 then number = tickets[#tickets].number + 1 end
  table.insert(tickets, {number = number, expires = now + tonumber(ARGV[4])})
  result = number
elseif op == 'finish' or op == 'cleanup' then
  local done, kept = tonumber(ARGV[4]), {}
  for _, ticket in ipairs(tickets) do
    if ticket.number ~= done then table.insert(kept, ticket) end
  end
  tickets = kept
end
if op == 'cleanup' and #tickets == 0 then
  redis.call('DEL', key)
  return result
end
local encoded = {}
for index, ticket in ipairs(tickets) do
  encoded[index] = cjson.encode({number = ticket.number, expires = ticket.expires})
end
lock.tickets = encoded
redis.call('SET', key, cjson.encode(lock))
return result
"""


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store with every change to a lock made atomically in Redis."""

    def __init__(
        self, *args: Any, endpoint_config: EndpointConfig | None = None, **kwargs: Any
    ) -> None:
        """Rasa's store (host, port, db, password, key prefix, ...); the script is registered.

        Rasa builds a lock store named by its class in endpoints.yml with `endpoint_config`
        only; its `url` is the host, as for Rasa's own `type: redis`.
        """
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(*args, **kwargs)
        self._change = self.red.register_script(_SCRIPT)

    def _run(self, operation: str, conversation_id: str, value: float) -> int:
        key = self.key_prefix + conversation_id
        return int(self._change(keys=[key], args=[operation, time.time(), conversation_id, value]))

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """A new ticket for the conversation, numbered after the last one, in one step."""
        try:
            return self._run("issue", conversation_id, lock_lifetime)
        except Exception as error:  # Rasa's callers expect a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Removes the lock's expired tickets."""
        self._run("update", conversation_id, 0)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Returns a ticket."""
        self._run("finish", conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Returns a ticket, and deletes the lock when no other ticket is left, in one step."""
        self._run("cleanup", conversation_id, ticket_number)
