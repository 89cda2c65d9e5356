"""The typed records of a run directory, each written and read by one class. `layout.py` says where each file is;
this package says what it holds:

- `files`: run.json (`RunRecord`) and a benchmark's metrics.json (`MetricsRecord`);
- `lines`: a line of output*.jsonl: what the generate stage adds to an item (`Generated`), the evaluate stage's
  verdict on it (`Grading`), and a graded line as metrics reads it (`GradedLine`);
- `client`: what one task's client did (`ClientReport`, `<output>.client.json`);
- `markers`: the stamp files that say a step is whole (`DoneMarker`, `GradedMarker`, any other) and `Progress`;
- `campaign`: campaign.json (`CampaignRecord`, one `CampaignModel` per model);
- `jobs`: what the jobs leave: logs/<job>/job.json (`JobRecord`), logs/<job>/cancelled.json (`CancelledRecord`),
  jobs/local-status.json (`LocalStatusRecord`), plan.json (`PlanRecord`) and jobs/submitted.json
  (`SubmittedRecord`).

Each file record carries `schema_version` (a line of output*.jsonl does not: its file's done and graded markers
do). A file without one was written before versions were recorded and reads as version 1; a file from a newer
nemo-pipeline is a DataError naming it, never a silent misreading. Other packages
import from `nemo_pipeline.records` itself.
"""

from nemo_pipeline.records._base import UnreadableRecordError, as_text, finite_number, read_json_object
from nemo_pipeline.records.campaign import (
    CAMPAIGN_SCHEMA_VERSION,
    CampaignModel,
    CampaignRecord,
    read_campaign_record,
    write_campaign_record,
)
from nemo_pipeline.records.client import CLIENT_SCHEMA_VERSION, ClientReport, read_client_report, write_client_report
from nemo_pipeline.records.files import (
    METRICS_SCHEMA_VERSION,
    RUN_SCHEMA_VERSION,
    MetricsRecord,
    RunRecord,
    read_metrics,
    read_run_record,
    write_metrics,
    write_run_record,
)
from nemo_pipeline.records.jobs import (
    CANCELLED_SCHEMA_VERSION,
    JOB_SCHEMA_VERSION,
    LOCAL_STATUS_SCHEMA_VERSION,
    PLAN_SCHEMA_VERSION,
    SUBMITTED_SCHEMA_VERSION,
    CancelledRecord,
    JobRecord,
    LocalJobStatus,
    LocalStatusRecord,
    PlanRecord,
    SubmittedRecord,
    read_cancelled_record,
    read_job_record,
    read_local_status,
    read_plan_record,
    read_submitted_record,
    write_cancelled_record,
    write_job_record,
    write_local_status,
    write_plan_record,
    write_submitted_record,
)
from nemo_pipeline.records.lines import Generated, GradedLine, Grading, LoglikScores, is_graded
from nemo_pipeline.records.markers import (
    MARKER_SCHEMA_VERSION,
    DoneMarker,
    GradedMarker,
    Progress,
    read_done_marker,
    read_graded_marker,
    read_marker,
    read_progress_file,
    write_done_marker,
    write_graded_marker,
    write_marker,
    write_progress,
)

__all__ = [
    "CAMPAIGN_SCHEMA_VERSION",
    "CANCELLED_SCHEMA_VERSION",
    "CLIENT_SCHEMA_VERSION",
    "JOB_SCHEMA_VERSION",
    "LOCAL_STATUS_SCHEMA_VERSION",
    "MARKER_SCHEMA_VERSION",
    "METRICS_SCHEMA_VERSION",
    "PLAN_SCHEMA_VERSION",
    "RUN_SCHEMA_VERSION",
    "SUBMITTED_SCHEMA_VERSION",
    "CampaignModel",
    "CampaignRecord",
    "CancelledRecord",
    "ClientReport",
    "DoneMarker",
    "Generated",
    "GradedLine",
    "GradedMarker",
    "Grading",
    "JobRecord",
    "LocalJobStatus",
    "LocalStatusRecord",
    "LoglikScores",
    "MetricsRecord",
    "PlanRecord",
    "Progress",
    "RunRecord",
    "SubmittedRecord",
    "UnreadableRecordError",
    "as_text",
    "finite_number",
    "is_graded",
    "read_campaign_record",
    "read_cancelled_record",
    "read_client_report",
    "read_done_marker",
    "read_graded_marker",
    "read_job_record",
    "read_json_object",
    "read_local_status",
    "read_marker",
    "read_metrics",
    "read_plan_record",
    "read_progress_file",
    "read_run_record",
    "read_submitted_record",
    "write_campaign_record",
    "write_cancelled_record",
    "write_client_report",
    "write_done_marker",
    "write_graded_marker",
    "write_job_record",
    "write_local_status",
    "write_marker",
    "write_metrics",
    "write_plan_record",
    "write_progress",
    "write_run_record",
    "write_submitted_record",
]
