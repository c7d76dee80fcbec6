DROP FUNCTION screenplay.ensure_log_partitions(integer, integer);
DROP TABLE screenplay.quota_usage;
DROP TABLE screenplay.audit_logs;
DROP TABLE screenplay.llm_call_logs;
DROP TABLE screenplay.execution_logs;
