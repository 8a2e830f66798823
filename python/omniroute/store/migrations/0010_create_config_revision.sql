-- One counter for everything a worker's configuration is built from (routing catalog, keys,
-- pricing overrides, stored guard settings). Workers poll SQLite's data_version, which every
-- commit changes (usage records included), and rebuild only when this revision moved.
CREATE TABLE config_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO config_revision (id, revision) VALUES (1, 0);

CREATE TRIGGER connections_config_bump_on_insert AFTER INSERT ON connections
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER connections_config_bump_on_update AFTER UPDATE ON connections
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER connections_config_bump_on_delete AFTER DELETE ON connections
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER nodes_config_bump_on_insert AFTER INSERT ON nodes
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER nodes_config_bump_on_update AFTER UPDATE ON nodes
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER nodes_config_bump_on_delete AFTER DELETE ON nodes
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER api_keys_config_bump_on_insert AFTER INSERT ON api_keys
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER api_keys_config_bump_on_update AFTER UPDATE ON api_keys
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER api_keys_config_bump_on_delete AFTER DELETE ON api_keys
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER combos_config_bump_on_insert AFTER INSERT ON combos
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER combos_config_bump_on_update AFTER UPDATE ON combos
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER combos_config_bump_on_delete AFTER DELETE ON combos
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER aliases_config_bump_on_insert AFTER INSERT ON aliases
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER aliases_config_bump_on_update AFTER UPDATE ON aliases
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER aliases_config_bump_on_delete AFTER DELETE ON aliases
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER wildcard_aliases_config_bump_on_insert AFTER INSERT ON wildcard_aliases
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER wildcard_aliases_config_bump_on_update AFTER UPDATE ON wildcard_aliases
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER wildcard_aliases_config_bump_on_delete AFTER DELETE ON wildcard_aliases
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER pricing_config_bump_on_insert AFTER INSERT ON pricing
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER pricing_config_bump_on_update AFTER UPDATE ON pricing
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER pricing_config_bump_on_delete AFTER DELETE ON pricing
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER security_settings_config_bump_on_insert AFTER INSERT ON security_settings
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER security_settings_config_bump_on_update AFTER UPDATE ON security_settings
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER security_settings_config_bump_on_delete AFTER DELETE ON security_settings
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER settings_config_bump_on_insert AFTER INSERT ON settings
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER settings_config_bump_on_update AFTER UPDATE ON settings
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER settings_config_bump_on_delete AFTER DELETE ON settings
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
END;
