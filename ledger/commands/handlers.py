"""Every command and its handler, in one explicit table (no registration by import), and
the one function that runs a handler."""

from __future__ import annotations

from ledger.commands.adjustments import AdjustPoints, adjust_points
from ledger.commands.base import (
    ADMIN,
    MANAGERS,
    OPERATOR,
    SERVICES,
    SYSTEM,
    Command,
    Decision,
    Registration,
)
from ledger.commands.campaigns import (
    DeclareWinners,
    LaunchCampaign,
    declare_winners,
    launch_campaign,
)
from ledger.commands.completions import (
    CompleteMission,
    VerifyCompletion,
    complete_mission,
    verify_completion,
)
from ledger.commands.context import Context
from ledger.commands.drift import (
    AcknowledgeDriftAlert,
    RaiseDriftAlert,
    acknowledge_drift_alert,
    raise_drift_alert,
)
from ledger.commands.members import (
    AddMember,
    ForgetMember,
    MoveMember,
    RecordDeparture,
    add_member,
    forget_member,
    move_member,
    record_departure,
)
from ledger.commands.missions import (
    ArchiveMission,
    PublishMission,
    archive_mission,
    publish_mission,
)
from ledger.commands.recognitions import GiveRecognition, give_recognition
from ledger.commands.reversals import ReverseAward, reverse_award
from ledger.commands.strategy import (
    DefineValue,
    RetireValue,
    ReviseStrategy,
    define_value,
    retire_value,
    revise_strategy,
)
from ledger.commands.tenancy import (
    ChangeSettings,
    CreateTenant,
    IssueAdminKey,
    IssueApiKey,
    change_settings,
    create_tenant,
    issue_admin_key,
    issue_api_key,
)
from ledger.commands.webhooks import (
    AbandonDelivery,
    ClaimDelivery,
    DeleteWebhook,
    RecordDeliveryAttempt,
    RegisterWebhook,
    abandon_delivery,
    claim_delivery,
    delete_webhook,
    record_delivery_attempt,
    register_webhook,
)
from ledger.events import EventMetadata, event_metadata

HANDLERS: dict[type[Command], Registration] = {
    CreateTenant: Registration(create_tenant, OPERATOR),
    IssueAdminKey: Registration(issue_admin_key, OPERATOR),
    IssueApiKey: Registration(issue_api_key, ADMIN),
    ChangeSettings: Registration(change_settings, ADMIN),
    DefineValue: Registration(define_value, ADMIN),
    RetireValue: Registration(retire_value, ADMIN),
    ReviseStrategy: Registration(revise_strategy, ADMIN),
    AddMember: Registration(add_member, ADMIN),
    MoveMember: Registration(move_member, ADMIN),
    RecordDeparture: Registration(record_departure, ADMIN),
    ForgetMember: Registration(forget_member, ADMIN),
    PublishMission: Registration(publish_mission, ADMIN),
    ArchiveMission: Registration(archive_mission, ADMIN),
    CompleteMission: Registration(complete_mission, SERVICES),
    VerifyCompletion: Registration(verify_completion, MANAGERS),
    GiveRecognition: Registration(give_recognition, SERVICES),
    LaunchCampaign: Registration(launch_campaign, ADMIN),
    DeclareWinners: Registration(declare_winners, ADMIN),
    AdjustPoints: Registration(adjust_points, MANAGERS),
    ReverseAward: Registration(reverse_award, ADMIN),
    RaiseDriftAlert: Registration(raise_drift_alert, SYSTEM),
    AcknowledgeDriftAlert: Registration(acknowledge_drift_alert, MANAGERS),
    RegisterWebhook: Registration(register_webhook, ADMIN),
    DeleteWebhook: Registration(delete_webhook, ADMIN),
    ClaimDelivery: Registration(claim_delivery, SYSTEM),
    RecordDeliveryAttempt: Registration(record_delivery_attempt, SYSTEM),
    AbandonDelivery: Registration(abandon_delivery, SYSTEM),
}


def decide(command: Command, context: Context, meta: EventMetadata) -> Decision:
    """Run the command's handler, every event it makes stamped with `meta`: the one path
    of the live service and of every re-decision (verify, simulate, recalibration).
    A refusal is raised as the handler raised it."""
    with event_metadata(meta):
        return HANDLERS[type(command)].handler(command, context)
