from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from apps.core.transitions import Transitions

host_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,62}$",
    "A host name is lower-case letters, digits and hyphens (it names the worker's queue host.<name>).",
)


class Host(models.Model):
    """A machine of the protected system; its Celery worker consumes the queue `host.<name>` and
    samples it. What to watch on it is configured here (by admins)."""

    name = models.CharField(max_length=63, unique=True, validators=[host_name_validator])
    description = models.CharField(max_length=200, blank=True)
    services = models.CharField(
        max_length=500,
        blank=True,
        help_text="Comma-separated systemd units or pm2 processes to watch, e.g. postgresql, nginx, mvono-app.",
    )
    website_urls = models.TextField(
        blank=True, max_length=4000, help_text="One http(s) URL per line: status, speed, certificate and content."
    )
    app_dir = models.CharField(
        max_length=500, blank=True, help_text="The protected application's folder (for files modified in 24 h)."
    )
    thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text='Overrides of the default thresholds, e.g. {"cpu": [70, 90], "disk": [80, 90]}.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"host.{self.name}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError
        from django.core.validators import URLValidator

        from apps.health.thresholds import validate_overrides

        errors: dict[str, list[str]] = {}
        problems = validate_overrides(self.thresholds)
        if problems:
            errors["thresholds"] = problems
        from apps.health.probes.service_units import SERVICE_NAME

        for service in self.service_names:
            if not SERVICE_NAME.match(service):
                errors.setdefault("services", []).append(
                    f"{service!r} is not a service name (letters, digits, @ . _ - only)."
                )
        check_url = URLValidator(schemes=["http", "https"])
        for url in self.urls:
            try:
                check_url(url)
            except ValidationError:
                errors.setdefault("website_urls", []).append(f"{url!r} is not an http(s) URL.")
        if errors:
            raise ValidationError(errors)

    @property
    def service_names(self) -> list[str]:
        return [name.strip() for name in self.services.split(",") if name.strip()]

    @property
    def urls(self) -> list[str]:
        return [line.strip() for line in self.website_urls.splitlines() if line.strip()]


class Probe(models.TextChoices):
    CPU = "cpu", "CPU"
    LOAD = "load", "Load average"
    MEMORY = "memory", "Memory"
    SWAP = "swap", "Swap"
    DISK = "disk", "Disks"
    UPTIME = "uptime", "Uptime"
    PROCESSES = "processes", "Top processes"
    POSTGRES = "postgres", "PostgreSQL"
    REDIS = "redis", "Redis"
    SERVICES = "services", "Services"
    WEBSITE = "website", "Website"
    BACKUPS = "backups", "Backups"


class State(models.TextChoices):
    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"
    ERROR = "error", "Probe failed"
    UNKNOWN = "unknown", "Unknown"


STATE_RANK = {State.OK: 0, State.UNKNOWN: 1, State.WARNING: 2, State.ERROR: 3, State.CRITICAL: 4}


class Sample(models.Model):
    """One probe's reading on one host. Raw samples are kept 24 hours."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="samples")
    probe = models.CharField(max_length=20, choices=Probe.choices)
    taken_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices)
    value = models.FloatField(null=True, blank=True, help_text="The headline number, for charts.")
    summary = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["host", "probe", "-taken_at"]), models.Index(fields=["taken_at"])]

    def __str__(self) -> str:
        return f"{self.host} {self.probe} {self.state} at {self.taken_at:%H:%M:%S}"


class MinuteAggregate(models.Model):
    """A probe's readings folded into one row per minute. Kept 30 days."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="minutes")
    probe = models.CharField(max_length=20, choices=Probe.choices)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField()
    value_avg = models.FloatField(null=True)
    value_min = models.FloatField(null=True)
    value_max = models.FloatField(null=True)
    worst_state = models.CharField(max_length=10, choices=State.choices)

    class Meta:
        ordering = ["-minute"]
        constraints = [models.UniqueConstraint(fields=["host", "probe", "minute"], name="one_aggregate_per_minute")]
        indexes = [models.Index(fields=["minute"])]

    def __str__(self) -> str:
        return f"{self.host_id} {self.probe} {self.minute:%Y-%m-%d %H:%M}"


class SecuritySnapshot(models.Model):
    """An on-demand look at a host (ports, logins, modified files), taken by its worker."""

    class Kind(models.TextChoices):
        PORTS = "ports", "Listening ports"
        LOGINS = "logins", "Logged-in users and recent logins"
        MODIFIED_FILES = "modified_files", "Files modified in the last 24 hours"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        TAKING = "taking", "Being taken"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # The host's worker claims a requested snapshot once, then stores what it saw or why it could
    # not; a new look is a new snapshot.
    TRANSITIONS = Transitions(
        {
            Status.REQUESTED: {Status.TAKING},
            Status.TAKING: {Status.DONE, Status.FAILED},
            Status.DONE: set(),
            Status.FAILED: set(),
        },
        field="status",
        labels=dict(Status.choices),
    )

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="snapshots")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    taken_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.host_id} ({self.status})"


class AlertGroup(models.Model):
    """An Alertmanager alert group and the incident it opened (deduplicated by group key)."""

    group_key = models.CharField(max_length=500, unique=True)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10)
    last_payload_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.group_key
