DROP TABLE screenplay.workspaces;
DROP TABLE screenplay.refresh_tokens;
DROP TABLE screenplay.users;
DROP TABLE screenplay.tenants;
