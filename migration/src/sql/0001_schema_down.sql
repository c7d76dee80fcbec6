DROP SCHEMA screenplay CASCADE;
-- Extensions and roles stay: they are shared with the rest of the cluster.
