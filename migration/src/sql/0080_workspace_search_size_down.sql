DROP FUNCTION screenplay.workspace_size_capped(uuid, integer);
