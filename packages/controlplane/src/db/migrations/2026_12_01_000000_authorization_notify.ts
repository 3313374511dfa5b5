// Authorization change notifications (API 1.1, DESIGN §3-§4): triggers on the three tables an
// IsAuthorized answer (or a gateway's right to be served) depends on call pg_notify on one
// channel, so every control-plane replica hears every change through its LISTEN connection and
// tells its gateways (Authorizer.WatchAuthorizationChanges). NOTIFY is transactional: it is
// delivered on commit, never for a rolled-back change.
//
// Payload: a small JSON object with ids only, never a secret or a hash:
//   {"kind":"api_key"|"user"|"gateway_key","op":"update"|"delete","id":"<row id>"}
// Updates notify only when a column an answer depends on changed: users.updated_at and
// ai_gateway_keys.last_used_at (written once a minute per gateway key) do not.
import { sql, type Kysely } from "kysely";

/** The channel the triggers notify and the control plane LISTENs on. */
export const AUTHORIZATION_CHANGES_CHANNEL = "weir_authorization_changes";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION weir_notify_authorization_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      changed_id text;
    BEGIN
      IF TG_OP = 'DELETE' THEN
        changed_id := OLD.id::text;
      ELSE
        changed_id := NEW.id::text;
      END IF;
      PERFORM pg_notify('weir_authorization_changes',
        json_build_object('kind', TG_ARGV[0], 'op', lower(TG_OP), 'id', changed_id)::text);
      RETURN NULL;
    END
    $$;

    CREATE TRIGGER api_keys_authorization_update AFTER UPDATE ON api_keys FOR EACH ROW
      WHEN ((OLD.hashed_secret, OLD.user_id, OLD.expires_at) IS DISTINCT FROM (NEW.hashed_secret, NEW.user_id, NEW.expires_at))
      EXECUTE FUNCTION weir_notify_authorization_change('api_key');
    CREATE TRIGGER api_keys_authorization_delete AFTER DELETE ON api_keys FOR EACH ROW
      EXECUTE FUNCTION weir_notify_authorization_change('api_key');

    CREATE TRIGGER users_authorization_update AFTER UPDATE ON users FOR EACH ROW
      WHEN ((OLD.username, OLD.role, OLD.status, OLD.deleted, OLD.is_system) IS DISTINCT FROM (NEW.username, NEW.role, NEW.status, NEW.deleted, NEW.is_system))
      EXECUTE FUNCTION weir_notify_authorization_change('user');
    CREATE TRIGGER users_authorization_delete AFTER DELETE ON users FOR EACH ROW
      EXECUTE FUNCTION weir_notify_authorization_change('user');

    CREATE TRIGGER ai_gateway_keys_authorization_update AFTER UPDATE ON ai_gateway_keys FOR EACH ROW
      WHEN ((OLD.secret_prefix, OLD.hashed_secret, OLD.allow_delegation) IS DISTINCT FROM (NEW.secret_prefix, NEW.hashed_secret, NEW.allow_delegation))
      EXECUTE FUNCTION weir_notify_authorization_change('gateway_key');
    CREATE TRIGGER ai_gateway_keys_authorization_delete AFTER DELETE ON ai_gateway_keys FOR EACH ROW
      EXECUTE FUNCTION weir_notify_authorization_change('gateway_key');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER ai_gateway_keys_authorization_delete ON ai_gateway_keys;
    DROP TRIGGER ai_gateway_keys_authorization_update ON ai_gateway_keys;
    DROP TRIGGER users_authorization_delete ON users;
    DROP TRIGGER users_authorization_update ON users;
    DROP TRIGGER api_keys_authorization_delete ON api_keys;
    DROP TRIGGER api_keys_authorization_update ON api_keys;
    DROP FUNCTION weir_notify_authorization_change();
  `.execute(db);
}
