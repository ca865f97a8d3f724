"""The team's emergency response procedures, as data.

This is `emergency-response-procedures.md` in structured form: the contact roles and escalation
path, the Initial Response and Post-Emergency phases every incident shares, and one runbook per
scenario with its steps, guidance (commands as code) and the remediation action a step runs.
`procedures_load()` writes it to the database; it is idempotent and never overwrites a runbook an
admin has already edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.runbooks.models import Scenario

SYSTEM_ADMINISTRATOR = "System Administrator"
DATABASE_ADMINISTRATOR = "Database Administrator"
TECHNICAL_LEAD = "Technical Lead"
PROJECT_MANAGER = "Project Manager"
INFRASTRUCTURE_PROVIDER = "Infrastructure Provider"

# The seed's escalation path, in order, with the minutes to wait for an acknowledgement.
ESCALATION_PATH = [
    (SYSTEM_ADMINISTRATOR, 15),
    (DATABASE_ADMINISTRATOR, 15),
    (TECHNICAL_LEAD, 15),
    (PROJECT_MANAGER, 30),
    (INFRASTRUCTURE_PROVIDER, 30),
]


@dataclass(frozen=True)
class Step:
    title: str
    guidance: str = ""
    # A key of the remediation action catalog (`apps.runbooks.step_actions`); a test holds every
    # one here to the catalog.
    action: str = ""


@dataclass(frozen=True)
class Procedure:
    title: str
    summary: str
    steps: list[Step] = field(default_factory=list)
    first_contact: str = ""


INITIAL_RESPONSE = Procedure(
    title="Initial Response",
    summary="The first four things to do in every emergency, before the scenario's own steps.",
    steps=[
        Step(
            "Assess the situation",
            "- Confirm the nature and scope of the emergency\n"
            "- Document when the issue was first noticed\n"
            "- Identify the affected components or functionality\n"
            "- Determine the potential impact on users and business operations\n\n"
            "Record *first noticed*, *affected components* and *impact* on the incident.",
        ),
        Step(
            "Notify key personnel",
            "- Contact the primary emergency contact appropriate for the issue (the runbook's first contact)\n"
            "- Provide clear, concise information about the issue\n"
            "- Record who has been notified and when in the notification log",
        ),
        Step(
            "Establish a communication channel",
            "- Create an emergency communication channel (a dedicated chat channel or video call) "
            "and set its link on the incident\n"
            "- Ensure all team members know how to access this channel\n"
            "- Designate a communication coordinator to keep stakeholders informed",
        ),
        Step(
            "Implement immediate mitigation",
            "- Take immediate actions to prevent further damage\n"
            "- For security incidents, consider isolating affected systems\n"
            "- For database issues, prevent further writes if data corruption is suspected\n"
            "- For system outages, check for obvious infrastructure issues",
        ),
    ],
)

POST_EMERGENCY = Procedure(
    title="Post-Emergency Actions",
    summary="What follows every emergency once service is restored.",
    steps=[
        Step(
            "Verify system stability",
            "- Monitor the system for at least 24 hours after the emergency response\n"
            "- Verify all services are functioning correctly\n"
            "- Check for any lingering issues or side effects",
        ),
        Step(
            "Document the incident",
            "Create a detailed incident report including:\n\n"
            "- Timeline of events\n- Actions taken\n- Root cause analysis\n- Impact assessment\n"
            "- Preventive measures for the future",
        ),
        Step(
            "Conduct a post-mortem",
            "- Schedule a post-mortem meeting with all relevant stakeholders\n"
            "- Review the incident handling process\n- Identify areas for improvement\n"
            "- Update emergency procedures based on lessons learned",
        ),
        Step(
            "Preventive measures",
            "- Implement preventive measures to avoid similar incidents\n"
            "- Update monitoring to detect similar issues earlier\n"
            "- Consider additional redundancy for critical components\n"
            "- Review and update backup strategies if needed",
        ),
    ],
)

SCENARIOS: dict[str, Procedure] = {
    Scenario.SYSTEM_OUTAGE: Procedure(
        title="System Outage",
        summary="Complete system unavailability.",
        first_contact=SYSTEM_ADMINISTRATOR,
        steps=[
            Step(
                "Verify outage",
                "- Check system status from multiple locations\n- Verify server and service status\n"
                "- Check for maintenance notices that may have been overlooked",
            ),
            Step(
                "Check infrastructure",
                "- Verify server status in the hosting dashboard\n"
                "- Check for resource exhaustion (CPU, memory, disk space)\n"
                "- Review recent deployment or configuration changes\n\n"
                "```bash\ntop\ndf -h\nfree -m\npm2 list\nsudo systemctl status nginx\n```",
            ),
            Step(
                "Restore service",
                "- Restart application services\n- If unsuccessful, restart the server\n"
                "- If hosted services are down, contact the infrastructure provider\n\n"
                "```bash\npm2 restart mvono-app\n```",
                action="restart_service",
            ),
            Step(
                "Restore from backup (if necessary)",
                "Restore the latest backup only if restarting did not bring the system back.\n\n"
                "```bash\ncd /path/to/maintenance/scripts\n./restore-from-backup.sh latest\n```",
                action="restore_database",
            ),
        ],
    ),
    Scenario.DATA_CORRUPTION: Procedure(
        title="Data Corruption",
        summary="Critical data is corrupted or inconsistent.",
        first_contact=DATABASE_ADMINISTRATOR,
        steps=[
            Step(
                "Contain the issue",
                "Place the system in maintenance mode to prevent further corruption.\n\n"
                '```bash\ncd /path/to/scripts\n./toggle-maintenance-mode.sh on "Emergency maintenance in progress '
                'due to data issue. Please check back shortly."\n```',
                action="maintenance_mode",
            ),
            Step(
                "Assess corruption scope",
                "- Identify affected tables and data\n- Run integrity checks on the database\n"
                "- Determine when corruption likely occurred",
            ),
            Step(
                "Restore from backup",
                "- Identify the most recent backup before corruption\n- Restore the database from this backup\n\n"
                "```bash\ncd /path/to/maintenance/scripts\n./restore-from-backup.sh [backup-timestamp]\n```",
                action="restore_database",
            ),
            Step(
                "Data reconciliation",
                "- If possible, recover transactions lost since the backup\n"
                "- Apply missing transactions manually or through recovery scripts\n"
                "- Verify data integrity after restoration",
            ),
        ],
    ),
    Scenario.SECURITY_BREACH: Procedure(
        title="Security Breach",
        summary="Confirmed or suspected security incident.",
        first_contact=SYSTEM_ADMINISTRATOR,
        steps=[
            Step(
                "Isolate affected systems",
                "Disable external access if the breach is ongoing.\n\n"
                "```bash\n# Update firewall rules to limit access\nsudo ufw default deny incoming\n"
                "sudo ufw allow from [trusted-ip] to any port 22\nsudo ufw enable\n```",
                action="firewall_lockdown",
            ),
            Step(
                "Preserve evidence",
                "- Create forensic backups of affected systems\n- Capture logs before they rotate\n"
                "- Document all observed indicators of compromise\n\n"
                "```bash\ncd /path/to/maintenance/scripts\n./capture-forensic-logs.sh\n```",
                action="capture_forensics",
            ),
            Step(
                "Change credentials",
                "- Reset all system passwords\n- Revoke and reissue API keys and tokens\n"
                "- Update database credentials\n\n"
                "```bash\ncd /path/to/maintenance/scripts\n./reset-all-credentials.sh\n```",
                action="reset_credentials",
            ),
            Step(
                "Patch vulnerabilities",
                "- Identify and patch the vulnerability that was exploited\n"
                "- Apply any pending security updates\n- Verify fixes with security testing",
            ),
        ],
    ),
    Scenario.DATABASE_FAILURE: Procedure(
        title="Database Failure",
        summary="Database is unavailable or experiencing severe performance issues.",
        first_contact=DATABASE_ADMINISTRATOR,
        steps=[
            Step(
                "Assess database status",
                "```bash\nsudo systemctl status postgresql\nsudo journalctl -u postgresql\n```",
            ),
            Step(
                "Check database logs",
                "```bash\nsudo tail -n 100 /var/log/postgresql/postgresql-14-main.log\n```",
            ),
            Step(
                "Restart database service",
                "```bash\nsudo systemctl restart postgresql\n```",
                action="restart_service",
            ),
            Step(
                "Check for corruption",
                "```sql\n-- Run as postgres user\nSELECT pg_database_size('mvono_db');\n"
                "SELECT * FROM pg_stat_activity;\n```\n\n"
                "If runaway sessions block recovery, terminate the other connections.",
                action="terminate_db_connections",
            ),
            Step(
                "Restore from backup (if necessary)",
                "Take an emergency backup first if the database still answers, then restore.\n\n"
                "```bash\ncd /path/to/maintenance/scripts\n./backup-database.sh emergency\n"
                "./restore-from-backup.sh latest\n```",
                action="restore_database",
            ),
        ],
    ),
    Scenario.WEBSITE_DEFACEMENT: Procedure(
        title="Website Defacement",
        summary="Public-facing website is defaced or displaying inappropriate content.",
        first_contact=SYSTEM_ADMINISTRATOR,
        steps=[
            Step(
                "Take website offline",
                "Redirect to a simple maintenance page.\n\n"
                "```bash\ncd /path/to/scripts\n./toggle-maintenance-mode.sh on "
                '"Website temporarily unavailable for maintenance."\n```',
                action="maintenance_mode",
            ),
            Step(
                "Identify compromise method",
                "- Check web server logs for unusual activity\n- Review recent content changes\n"
                "- Verify file integrity against known good copies\n\n"
                "```bash\nsudo journalctl -u nginx\nfind /path/to/application -type f -mtime -1 -ls\n```",
                action="capture_forensics",
            ),
            Step(
                "Restore clean content",
                "Restore website files from backup.\n\n"
                "```bash\ncd /path/to/maintenance/scripts\n./restore-web-content.sh [backup-timestamp]\n```",
                action="restore_web_content",
            ),
            Step(
                "Secure the environment",
                "- Change all access credentials\n- Apply security patches\n- Verify correct file permissions",
                action="reset_credentials",
            ),
        ],
    ),
}
