#!/bin/sh
# Writes the user list from the environment, then runs PgBouncer in the foreground.
set -eu
printf '"screenplay_app" "%s"\n"screenplay_user" "%s"\n' "$APP_DB_PASSWORD" "$DB_PASSWORD" \
    > /etc/pgbouncer/userlist.txt
chmod 0600 /etc/pgbouncer/userlist.txt
sed -i "s/host=postgres /host=${DB_HOST:-postgres} /" /etc/pgbouncer/pgbouncer.ini
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
