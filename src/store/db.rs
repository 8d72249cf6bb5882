//! The store's SQL runs on SQLite or on PostgreSQL through this thin layer: a connection of
//! either kind (`Conn`), a query whose values are collected first and bound natively when it
//! runs (`Query`), and a row of either kind read by column (`Row`).
//!
//! SQL is written once, with `?` placeholders. SQLite gets the string as it is (no cost on the
//! embedded path); PostgreSQL gets it with `$1, $2, …` in their place (`numbered`), a translation
//! that costs far less than the round trip it precedes. Where the two dialects differ, the caller
//! asks `Conn::kind` and says each in its own words (there are few: the event id sequence, the
//! write lock, the online backup).
//!
//! Why not sqlx's `Any` driver: it copies every row into its own value type and knows neither
//! SQLite's tuning (WAL, one writer, `BEGIN IMMEDIATE`) nor PostgreSQL's advisory locks; here both
//! drivers run natively and rows are decoded in place.

use sqlx::postgres::{PgConnection, PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, Row as _, Type};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Sqlite,
    Postgres,
}

/// A borrowed connection of either kind. Cheap to make; `re` lends it again for the next query.
pub(super) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Pg(&'c mut PgConnection),
}

impl Conn<'_> {
    pub(super) fn re(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Pg(c) => Conn::Pg(c),
        }
    }

    pub(super) fn kind(&self) -> Kind {
        match self {
            Conn::Sqlite(_) => Kind::Sqlite,
            Conn::Pg(_) => Kind::Postgres,
        }
    }

    /// Runs statements without parameters and without preparing them (transaction control,
    /// migrations): PostgreSQL takes several `;`-separated statements in one round trip this way.
    pub(super) async fn raw(self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            // Prepared and cached, as the store always ran them on SQLite.
            Conn::Sqlite(c) => sqlx::query(sql).execute(c).await.map(drop),
            Conn::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
        }
    }

    /// Runs a script of several statements (a migration).
    pub(super) async fn script(self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            Conn::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
            Conn::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
        }
    }
}

/// An owned connection of either kind: the writer.
pub(super) enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl DbConn {
    pub(super) fn conn(&mut self) -> Conn<'_> {
        match self {
            DbConn::Sqlite(c) => Conn::Sqlite(c),
            DbConn::Pg(c) => Conn::Pg(c),
        }
    }
}

/// A value to bind, kept until the query knows which database it runs on.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Int(Option<i64>),
    Int32(Option<i32>),
    Float(Option<f64>),
    Text(Option<String>),
    Bool(Option<bool>),
}

/// What can be bound to a query.
pub(super) trait Param {
    fn value(self) -> Value;
}

macro_rules! param {
    ($t:ty, $variant:ident, $v:ident => $e:expr) => {
        impl Param for $t {
            fn value(self) -> Value {
                let $v = self;
                Value::$variant($e)
            }
        }
    };
}
param!(i64, Int, v => Some(v));
param!(Option<i64>, Int, v => v);
param!(i32, Int32, v => Some(v));
param!(Option<i32>, Int32, v => v);
param!(f64, Float, v => Some(v));
param!(bool, Bool, v => Some(v));
param!(String, Text, v => Some(v));
param!(Option<String>, Text, v => v);
param!(&str, Text, v => Some(v.to_string()));
param!(&String, Text, v => Some(v.clone()));

impl Param for Value {
    fn value(self) -> Value {
        self
    }
}

/// SQL text: a literal, or a string built from literals and placeholders only (never from
/// values), which the caller vouches for with `AssertSqlSafe` as sqlx asks.
pub(super) enum Sql {
    Static(&'static str),
    Built(String),
}

impl Sql {
    fn as_str(&self) -> &str {
        match self {
            Sql::Static(s) => s,
            Sql::Built(s) => s,
        }
    }
}

impl From<&'static str> for Sql {
    fn from(s: &'static str) -> Sql {
        Sql::Static(s)
    }
}

impl From<AssertSqlSafe<String>> for Sql {
    fn from(s: AssertSqlSafe<String>) -> Sql {
        Sql::Built(s.0)
    }
}

/// A query with its values, run on whichever connection it is given.
#[must_use = "a query does nothing until it is run"]
pub(super) struct Query {
    sql: Sql,
    args: Vec<Value>,
}

pub(super) fn query(sql: impl Into<Sql>) -> Query {
    Query { sql: sql.into(), args: Vec::new() }
}

/// What a statement did.
pub(super) struct Done {
    rows_affected: u64,
}

impl Done {
    pub(super) fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl Query {
    pub(super) fn bind(mut self, value: impl Param) -> Query {
        self.args.push(value.value());
        self
    }

    fn sqlite(self) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
        let mut q = match self.sql {
            Sql::Static(s) => sqlx::query(s),
            Sql::Built(s) => sqlx::query(AssertSqlSafe(s)),
        };
        for v in self.args {
            q = match v {
                Value::Int(v) => q.bind(v),
                Value::Int32(v) => q.bind(v),
                Value::Float(v) => q.bind(v),
                Value::Text(v) => q.bind(v),
                Value::Bool(v) => q.bind(v),
            };
        }
        q
    }

    fn pg(self) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
        let mut q = sqlx::query(AssertSqlSafe(numbered(self.sql.as_str())));
        for v in self.args {
            q = match v {
                Value::Int(v) => q.bind(v),
                Value::Int32(v) => q.bind(v),
                Value::Float(v) => q.bind(v),
                Value::Text(v) => q.bind(v),
                Value::Bool(v) => q.bind(v),
            };
        }
        q
    }

    pub(super) async fn execute(self, conn: Conn<'_>) -> Result<Done, sqlx::Error> {
        let rows_affected = match conn {
            Conn::Sqlite(c) => self.sqlite().execute(c).await?.rows_affected(),
            Conn::Pg(c) => self.pg().execute(c).await?.rows_affected(),
        };
        Ok(Done { rows_affected })
    }

    pub(super) async fn fetch_optional(self, conn: Conn<'_>) -> Result<Option<Row>, sqlx::Error> {
        Ok(match conn {
            Conn::Sqlite(c) => self.sqlite().fetch_optional(c).await?.map(Row::Sqlite),
            Conn::Pg(c) => self.pg().fetch_optional(c).await?.map(Row::Pg),
        })
    }

    pub(super) async fn fetch_one(self, conn: Conn<'_>) -> Result<Row, sqlx::Error> {
        Ok(match conn {
            Conn::Sqlite(c) => Row::Sqlite(self.sqlite().fetch_one(c).await?),
            Conn::Pg(c) => Row::Pg(self.pg().fetch_one(c).await?),
        })
    }

    pub(super) async fn fetch_all(self, conn: Conn<'_>) -> Result<Vec<Row>, sqlx::Error> {
        Ok(match conn {
            Conn::Sqlite(c) => self.sqlite().fetch_all(c).await?.into_iter().map(Row::Sqlite).collect(),
            Conn::Pg(c) => self.pg().fetch_all(c).await?.into_iter().map(Row::Pg).collect(),
        })
    }

    /// The first column of the one row.
    pub(super) async fn scalar_one<T: Col>(self, conn: Conn<'_>) -> Result<T, sqlx::Error> {
        self.fetch_one(conn).await?.try_get(0)
    }

    /// The first column of the row, if there is one.
    pub(super) async fn scalar_optional<T: Col>(self, conn: Conn<'_>) -> Result<Option<T>, sqlx::Error> {
        self.fetch_optional(conn).await?.map(|r| r.try_get(0)).transpose()
    }

    /// The first column of every row.
    pub(super) async fn scalar_all<T: Col>(self, conn: Conn<'_>) -> Result<Vec<T>, sqlx::Error> {
        self.fetch_all(conn).await?.iter().map(|r| r.try_get(0)).collect()
    }
}

/// A type both drivers decode.
pub(super) trait Col:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}
impl<T> Col for T where T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres> {}

/// A column name or position, for either kind of row.
pub(super) trait Index: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> {}
impl<I> Index for I where I: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> {}

/// A result row of either kind, decoded in place.
pub(super) enum Row {
    Sqlite(SqliteRow),
    Pg(PgRow),
}

impl Row {
    pub(super) fn try_get<T: Col>(&self, index: impl Index) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.try_get(index),
            Row::Pg(r) => r.try_get(index),
        }
    }
}

/// `sql` with PostgreSQL's numbered placeholders in place of each `?` outside quotes.
pub(super) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for ch in sql.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            (None, _) => {}
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(numbered("SELECT ? , '?' AS \"a?\", x = ?"), "SELECT $1 , '?' AS \"a?\", x = $2");
        assert_eq!(
            numbered("UPDATE t SET a = 'it''s ?' WHERE id IN (?, ?)"),
            "UPDATE t SET a = 'it''s ?' WHERE id IN ($1, $2)"
        );
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
    }
}
