DROP TABLE screenplay.fragment_versions;
DROP TABLE screenplay.screenplay_fragments;
DROP TABLE screenplay.outline_steps;
DROP TABLE screenplay.screenplay_sessions;
