"""What a job left behind after a fault, counted, for the fault tests to compare."""
from pathlib import Path

from django.conf import settings

from annotations.models import AuditEvent, Footage


def ingest_outcome(footage: Footage) -> dict:
    """What an ingest left behind, counted: shots, frames, proxy files, audit records."""
    footage.refresh_from_db()
    proxies = Path(settings.MEDIA_ROOT, footage.derived_dir, "proxy")
    return {"status": footage.status, "shots": [(s.first_frame, s.frame_count) for s in footage.shots.all()],
            "proxies": len(list(proxies.glob("*.jpg"))) if proxies.exists() else 0,
            "audit": sorted(AuditEvent.objects.filter(target_type="footage", target_id=str(footage.pk))
                            .values_list("verb", flat=True))}
