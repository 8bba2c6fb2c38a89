"""Per-keyframe preview state, shared by the socket servers and the preview workers.

Coalescing works on three values per keyframe:

    wanted   the newest hint revision someone wants a preview of (only ever rises)
    done     the revision of the latest finished preview (its JPEG is kept for late joiners)
    claim    a lease (a random token) held by the one job that owns the keyframe's previews

An edit raises `wanted` and schedules a job only if it wins the claim; the job gets the token
and stops as soon as it no longer holds it (a redelivered or duplicate job finds another
token, or none, and does nothing). The job renders
`wanted` (whatever it is when it starts), and after rendering looks again: if `wanted` rose
meanwhile it renders the newest revision, skipping the ones in between. So a slow worker
never builds a backlog and nobody waits on a stale preview.

Embedded mode keeps this in process memory (jobs are threads of the same process);
with Celery it lives in Redis, where every web and worker process sees it.
"""
from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from functools import lru_cache

import redis
import redis.lock
from django.conf import settings

CLAIM_SECONDS = 60   # a job that died loses its claim after this; live jobs renew it
KEEP_SECONDS = 24 * 3600


class LocalState:
    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[tuple[str, int], object] = {}
        self._claims: dict[int, tuple[str, float]] = {}

    def want(self, keyframe_id: int, revision: int) -> int:
        with self._lock:
            value = max(revision, self._values.get(("wanted", keyframe_id), 0))
            self._values[("wanted", keyframe_id)] = value
            return value

    def wanted(self, keyframe_id: int) -> int:
        return self._values.get(("wanted", keyframe_id), 0)

    def claim(self, keyframe_id: int) -> str | None:
        """A new lease token, or None while another job holds the keyframe."""
        with self._lock:
            now = time.monotonic()
            held = self._claims.get(keyframe_id)
            if held and held[1] > now:
                return None
            token = secrets.token_hex(8)
            self._claims[keyframe_id] = (token, now + CLAIM_SECONDS)
            return token

    def renew(self, keyframe_id: int, token: str) -> bool:
        """Extend the lease if `token` still holds it."""
        with self._lock:
            held = self._claims.get(keyframe_id)
            if not held or held[0] != token or held[1] <= time.monotonic():
                return False
            self._claims[keyframe_id] = (token, time.monotonic() + CLAIM_SECONDS)
            return True

    def release(self, keyframe_id: int, token: str) -> None:
        with self._lock:
            if self._claims.get(keyframe_id, ("",))[0] == token:
                del self._claims[keyframe_id]

    def finish(self, keyframe_id: int, revision: int, jpeg: bytes, meta: dict) -> None:
        with self._lock:
            self._values[("latest", keyframe_id)] = (revision, jpeg, meta)

    def done(self, keyframe_id: int) -> int:
        latest = self._values.get(("latest", keyframe_id))
        return latest[0] if latest else 0

    def latest(self, keyframe_id: int) -> tuple[int, bytes, dict] | None:
        return self._values.get(("latest", keyframe_id))

    def forget(self, keyframe_id: int) -> None:
        with self._lock:
            for key in [k for k in self._values if k[1] == keyframe_id]:
                del self._values[key]
            self._claims.pop(keyframe_id, None)


class RedisState:
    # Raise a counter atomically (a plain SET could lower it when two edits race).
    _RAISE = "local v = tonumber(redis.call('GET', KEYS[1]) or '0') " \
             "if tonumber(ARGV[1]) > v then v = tonumber(ARGV[1]) end " \
             "redis.call('SET', KEYS[1], v, 'EX', ARGV[2]) return v"

    def __init__(self, url: str, prefix: str):
        self.redis = redis.Redis.from_url(url)
        self.prefix = prefix
        self._raise = self.redis.register_script(self._RAISE)

    def _key(self, name: str, keyframe_id: int) -> str:
        return f"{self.prefix}:preview:{keyframe_id}:{name}"

    def want(self, keyframe_id: int, revision: int) -> int:
        return int(self._raise(keys=[self._key("wanted", keyframe_id)], args=[revision, KEEP_SECONDS]))

    def wanted(self, keyframe_id: int) -> int:
        return int(self.redis.get(self._key("wanted", keyframe_id)) or 0)

    def _lease(self, keyframe_id: int, token: str | None = None) -> redis.lock.Lock:
        """redis-py's lock on the keyframe's previews, holding `token` (a job passes it on by value)."""
        lease = self.redis.lock(self._key("claim", keyframe_id), timeout=CLAIM_SECONDS, thread_local=False)
        lease.local.token = token.encode() if token else None
        return lease

    def claim(self, keyframe_id: int) -> str | None:
        token = secrets.token_hex(8)
        return token if self._lease(keyframe_id).acquire(blocking=False, token=token) else None

    def renew(self, keyframe_id: int, token: str) -> bool:
        try:
            return self._lease(keyframe_id, token).reacquire()
        except redis.exceptions.LockNotOwnedError:
            return False

    def release(self, keyframe_id: int, token: str) -> None:
        with contextlib.suppress(redis.exceptions.LockNotOwnedError):
            self._lease(keyframe_id, token).release()

    def finish(self, keyframe_id: int, revision: int, jpeg: bytes, meta: dict) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self._key("jpeg", keyframe_id), jpeg, ex=KEEP_SECONDS)
        pipe.set(self._key("done", keyframe_id), json.dumps({"revision": revision, **meta}), ex=KEEP_SECONDS)
        pipe.execute()

    def done(self, keyframe_id: int) -> int:
        latest = self.latest(keyframe_id, with_image=False)
        return latest[0] if latest else 0

    def latest(self, keyframe_id: int, with_image: bool = True) -> tuple[int, bytes, dict] | None:
        raw = self.redis.get(self._key("done", keyframe_id))
        if raw is None:
            return None
        meta = json.loads(raw)
        jpeg = self.redis.get(self._key("jpeg", keyframe_id)) if with_image else b""
        return meta.pop("revision"), jpeg or b"", meta

    def forget(self, keyframe_id: int) -> None:
        self.redis.delete(*(self._key(name, keyframe_id) for name in ("wanted", "claim", "jpeg", "done")))


@lru_cache(maxsize=1)
def preview_state() -> LocalState | RedisState:
    """Shared across processes when jobs run on Celery, in memory when they run in threads."""
    if settings.JOBS_MODE == "celery":
        return RedisState(settings.REDIS_URL or settings.CELERY_BROKER_URL, settings.REDIS_PREFIX)
    return LocalState()
