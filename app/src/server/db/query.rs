//! Queries written once for both backends, run on a pool (`&Db`) or inside a transaction
//! (`&mut Tx`) alike.
//!
//! sqlx types every query by its backend, so a helper that should work "in a SQLite or a
//! PostgreSQL transaction" could not be an ordinary function, and each such helper used to be
//! a macro. Here a query keeps its SQL and its bound values backend-neutral ([`Arg`]) until it
//! runs; only then is it turned into the backend's own query, in one place. The API mirrors
//! sqlx's (`query`, `query_as`, `query_scalar`, `bind`, `execute`, `fetch_*`, a
//! `QueryBuilder` with `push_values`), so reading a query reads like sqlx.
//!
//! Both backends take `$n` placeholders (sqlx numbers them on SQLite too).
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, FromRow, PgConnection, PgPool, SqliteConnection, SqlitePool};

use super::{Db, Tx};

/// One bound value: the types Costroom stores (`F64` is a training metric score, never money).
/// `None` binds a typed NULL (PostgreSQL needs the type of every parameter).
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(Option<bool>),
    Str(Option<&'a str>),
    String(Option<String>),
    Time(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
}

macro_rules! arg_from {
    ($variant:ident: $($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl<'a> From<$t> for Arg<'a> {
            fn from($v: $t) -> Self {
                Arg::$variant($e)
            }
        }
    )*};
}

arg_from!(I64: i64 => |v| Some(v), &i64 => |v| Some(*v), Option<i64> => |v| v, &Option<i64> => |v| *v);
arg_from!(F64: f64 => |v| Some(v), &f64 => |v| Some(*v), Option<f64> => |v| v);
arg_from!(Bool: bool => |v| Some(v), &bool => |v| Some(*v), Option<bool> => |v| v);
arg_from!(Str: &'a str => |v| Some(v), &'a String => |v| Some(v.as_str()), &&'a str => |v| Some(*v),
    Option<&'a str> => |v| v, &'a Option<String> => |v| v.as_deref(), Option<&'a String> => |v| v.map(String::as_str));
arg_from!(String: String => |v| Some(v), Option<String> => |v| v);
arg_from!(Time: DateTime<Utc> => |v| Some(v), &DateTime<Utc> => |v| Some(*v), Option<DateTime<Utc>> => |v| v,
    &Option<DateTime<Utc>> => |v| *v);
arg_from!(Date: NaiveDate => |v| Some(v), &NaiveDate => |v| Some(*v), Option<NaiveDate> => |v| v,
    &Option<NaiveDate> => |v| *v);

fn encode_err(e: sqlx::error::BoxDynError) -> sqlx::Error {
    sqlx::Error::Encode(e)
}

fn sqlite_args<'q>(args: Vec<Arg<'q>>) -> sqlx::Result<SqliteArguments<'q>> {
    let mut out = SqliteArguments::default();
    for a in args {
        match a {
            Arg::I64(v) => out.add(v),
            Arg::F64(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Str(v) => out.add(v),
            Arg::String(v) => out.add(v),
            Arg::Time(v) => out.add(v),
            Arg::Date(v) => out.add(v),
        }
        .map_err(encode_err)?;
    }
    Ok(out)
}

fn pg_args(args: Vec<Arg<'_>>) -> sqlx::Result<PgArguments> {
    let mut out = PgArguments::default();
    for a in args {
        match a {
            Arg::I64(v) => out.add(v),
            Arg::F64(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Str(v) => out.add(v),
            Arg::String(v) => out.add(v),
            Arg::Time(v) => out.add(v),
            Arg::Date(v) => out.add(v),
        }
        .map_err(encode_err)?;
    }
    Ok(out)
}

/// Where a query runs: a pool, or the connection of an open transaction.
pub enum Conn<'c> {
    SqlitePool(&'c SqlitePool),
    PgPool(&'c PgPool),
    Sqlite(&'c mut SqliteConnection),
    Pg(&'c mut PgConnection),
}

/// A pool (`&Db`) or a transaction (`&mut Tx`).
pub trait Executor<'c> {
    fn conn(self) -> Conn<'c>;
}

impl<'c> Executor<'c> for &'c Db {
    fn conn(self) -> Conn<'c> {
        match self {
            Db::Sqlite(s) => Conn::SqlitePool(&s.reads),
            Db::Postgres(p) => Conn::PgPool(p),
        }
    }
}

impl<'c> Executor<'c> for &'c mut Tx {
    fn conn(self) -> Conn<'c> {
        match self {
            Tx::Sqlite(t, _) => Conn::Sqlite(&mut *t),
            Tx::Postgres(t) => Conn::Pg(&mut *t),
        }
    }
}

/// What a statement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done(u64);

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.0
    }
}

/// Rows that decode the same from both backends.
pub trait BothRow: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> BothRow for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// A statement and its values.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    sql: std::borrow::Cow<'a, str>,
    /// The same statement with anonymous `?` placeholders, for SQLite, when a builder wrote it.
    /// SQLite looks a `$n` parameter's name up by a linear scan of all names each time it
    /// binds one, so binding a statement of n numbered parameters costs n² string
    /// comparisons: a 500-row event insert (17,500 values) spent 90 % of ingest there.
    /// Anonymous placeholders carry no names and bind in order.
    sqlite_sql: Option<String>,
    args: Vec<Arg<'a>>,
    persistent: bool,
}

pub fn query(sql: &str) -> Query<'_> {
    Query { sql: sql.into(), sqlite_sql: None, args: Vec::new(), persistent: true }
}

/// A query whose rows decode into `T`.
pub fn query_as<T: BothRow>(sql: &str) -> QueryAs<'_, T> {
    QueryAs { q: query(sql), _row: PhantomData }
}

/// A query whose first column decodes into `T`.
pub fn query_scalar<T>(sql: &str) -> QueryScalar<'_, T>
where
    (T,): BothRow,
{
    QueryScalar { q: query(sql), _row: PhantomData }
}

impl<'a> Query<'a> {
    pub fn bind(mut self, v: impl Into<Arg<'a>>) -> Self {
        self.args.push(v.into());
        self
    }

    #[allow(clippy::type_complexity)]
    fn parts(self) -> (std::borrow::Cow<'a, str>, Option<String>, Vec<Arg<'a>>, bool) {
        (self.sql, self.sqlite_sql, self.args, self.persistent)
    }

    /// Whether the backend keeps the prepared statement (off for one-off texts, such as a
    /// multi-row insert of a batch's odd length).
    pub fn persistent(mut self, yes: bool) -> Self {
        self.persistent = yes;
        self
    }

    pub async fn execute<'c>(self, ex: impl Executor<'c>) -> sqlx::Result<Done> {
        let (sql, sqlite_sql, args, persistent) = self.parts();
        let n = match ex.conn() {
            Conn::SqlitePool(p) => {
                sqlx::query_with(sqlite_sql.as_deref().unwrap_or(&sql), sqlite_args(args)?)
                    .persistent(persistent)
                    .execute(p)
                    .await?
                    .rows_affected()
            }
            Conn::Sqlite(c) => sqlx::query_with(sqlite_sql.as_deref().unwrap_or(&sql), sqlite_args(args)?)
                .persistent(persistent)
                .execute(c)
                .await?
                .rows_affected(),
            Conn::PgPool(p) => sqlx::query_with(&sql, pg_args(args)?)
                .persistent(persistent)
                .execute(p)
                .await?
                .rows_affected(),
            Conn::Pg(c) => sqlx::query_with(&sql, pg_args(args)?)
                .persistent(persistent)
                .execute(c)
                .await?
                .rows_affected(),
        };
        Ok(Done(n))
    }
}

pub struct QueryAs<'a, T> {
    q: Query<'a>,
    _row: PhantomData<fn() -> T>,
}

impl<'a, T: BothRow> QueryAs<'a, T> {
    pub fn bind(mut self, v: impl Into<Arg<'a>>) -> Self {
        self.q = self.q.bind(v);
        self
    }

    pub fn persistent(mut self, yes: bool) -> Self {
        self.q = self.q.persistent(yes);
        self
    }

    pub async fn fetch_all<'c>(self, ex: impl Executor<'c>) -> sqlx::Result<Vec<T>> {
        let (sql, sqlite_sql, args, persistent) = self.q.parts();
        match ex.conn() {
            Conn::SqlitePool(p) => {
                sqlx::query_as_with(sqlite_sql.as_deref().unwrap_or(&sql), sqlite_args(args)?)
                    .persistent(persistent)
                    .fetch_all(p)
                    .await
            }
            Conn::Sqlite(c) => {
                sqlx::query_as_with(sqlite_sql.as_deref().unwrap_or(&sql), sqlite_args(args)?)
                    .persistent(persistent)
                    .fetch_all(c)
                    .await
            }
            Conn::PgPool(p) => {
                sqlx::query_as_with(&sql, pg_args(args)?).persistent(persistent).fetch_all(p).await
            }
            Conn::Pg(c) => {
                sqlx::query_as_with(&sql, pg_args(args)?).persistent(persistent).fetch_all(c).await
            }
        }
    }

    pub async fn fetch_optional<'c>(self, ex: impl Executor<'c>) -> sqlx::Result<Option<T>> {
        let (sql, sqlite_sql, args, persistent) = self.q.parts();
        match ex.conn() {
            Conn::SqlitePool(p) => {
                sqlx::query_as_with(sqlite_sql.as_deref().unwrap_or(&sql), sqlite_args(args)?)
                    .persistent(persistent)
                    .fetch_optional(p)
                    .await
            }
            Conn::Sqlite(c) => {
                sqlx::query_as_with(sqlite_sql.as_deref().unwrap_or(&sql), sqlite_args(args)?)
                    .persistent(persistent)
                    .fetch_optional(c)
                    .await
            }
            Conn::PgPool(p) => {
                sqlx::query_as_with(&sql, pg_args(args)?).persistent(persistent).fetch_optional(p).await
            }
            Conn::Pg(c) => {
                sqlx::query_as_with(&sql, pg_args(args)?).persistent(persistent).fetch_optional(c).await
            }
        }
    }

    pub async fn fetch_one<'c>(self, ex: impl Executor<'c>) -> sqlx::Result<T> {
        self.fetch_optional(ex).await?.ok_or(sqlx::Error::RowNotFound)
    }
}

pub struct QueryScalar<'a, T> {
    q: Query<'a>,
    _row: PhantomData<fn() -> T>,
}

impl<'a, T> QueryScalar<'a, T>
where
    (T,): BothRow,
    T: Send + Unpin,
{
    pub fn bind(mut self, v: impl Into<Arg<'a>>) -> Self {
        self.q = self.q.bind(v);
        self
    }

    pub fn persistent(mut self, yes: bool) -> Self {
        self.q = self.q.persistent(yes);
        self
    }

    fn rows(self) -> QueryAs<'a, (T,)> {
        QueryAs { q: self.q, _row: PhantomData }
    }

    pub async fn fetch_all<'c>(self, ex: impl Executor<'c>) -> sqlx::Result<Vec<T>> {
        Ok(self.rows().fetch_all(ex).await?.into_iter().map(|(v,)| v).collect())
    }

    pub async fn fetch_one<'c>(self, ex: impl Executor<'c>) -> sqlx::Result<T> {
        Ok(self.rows().fetch_one(ex).await?.0)
    }

    pub async fn fetch_optional<'c>(self, ex: impl Executor<'c>) -> sqlx::Result<Option<T>> {
        Ok(self.rows().fetch_optional(ex).await?.map(|(v,)| v))
    }
}

/// Builds SQL with values, as sqlx's `QueryBuilder` does, for both backends: multi-row
/// inserts (`push_values`) and statements whose text depends on the request.
pub struct QueryBuilder<'a> {
    sql: String,
    /// The text with `?` for each bound value; `None` once a pushed fragment holds a `$`
    /// (a hand-numbered placeholder would not mix with anonymous ones).
    sqlite_sql: Option<String>,
    args: Vec<Arg<'a>>,
}

/// Values pushed with a separator between them (one row of `push_values`, or a list).
pub struct Separated<'b, 'a> {
    b: &'b mut QueryBuilder<'a>,
    first: bool,
    sep: &'static str,
}

impl<'a> Separated<'_, 'a> {
    pub fn push_bind(&mut self, v: impl Into<Arg<'a>>) -> &mut Self {
        if !self.first {
            self.b.push(self.sep);
        }
        self.first = false;
        self.b.push_bind(v);
        self
    }
}

impl<'a> QueryBuilder<'a> {
    pub fn new(head: impl Into<String>) -> Self {
        let mut b = QueryBuilder { sql: String::new(), sqlite_sql: Some(String::new()), args: Vec::new() };
        b.push(&head.into());
        b
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        if sql.contains('$') {
            self.sqlite_sql = None;
        }
        if let Some(s) = &mut self.sqlite_sql {
            s.push_str(sql);
        }
        self
    }

    /// Appends the next placeholder (`$n`) and its value.
    pub fn push_bind(&mut self, v: impl Into<Arg<'a>>) -> &mut Self {
        use std::fmt::Write as _;
        self.args.push(v.into());
        let _ = write!(self.sql, "${}", self.args.len());
        if let Some(s) = &mut self.sqlite_sql {
            s.push('?');
        }
        self
    }

    /// Values separated by `sep` (e.g. the list of an `in (…)`).
    pub fn separated(&mut self, sep: &'static str) -> Separated<'_, 'a> {
        Separated { b: self, first: true, sep }
    }

    /// `values (…), (…)`: one parenthesised row per item.
    pub fn push_values<I, F>(&mut self, items: I, mut row: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Separated<'_, 'a>, I::Item),
    {
        self.push("values ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            row(Separated { b: self, first: true, sep: ", " }, item);
            self.push(")");
        }
        self
    }

    pub fn build(self) -> Query<'a> {
        Query { sql: self.sql.into(), sqlite_sql: self.sqlite_sql, args: self.args, persistent: true }
    }

    pub fn build_query_as<T: BothRow>(self) -> QueryAs<'a, T> {
        QueryAs { q: self.build(), _row: PhantomData }
    }

    pub fn build_query_scalar<T>(self) -> QueryScalar<'a, T>
    where
        (T,): BothRow,
    {
        QueryScalar { q: self.build(), _row: PhantomData }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_values_numbers_placeholders_in_order() {
        let mut b = QueryBuilder::new("insert into t (a, b) ");
        b.push_values([(1i64, "x"), (2, "y")], |mut r, (a, s)| {
            r.push_bind(a).push_bind(s);
        });
        b.push(" on conflict do nothing");
        let q = b.build();
        assert_eq!(q.sql, "insert into t (a, b) values ($1, $2), ($3, $4) on conflict do nothing");
        assert_eq!(
            q.sqlite_sql.as_deref(),
            Some("insert into t (a, b) values (?, ?), (?, ?) on conflict do nothing")
        );
        assert_eq!(q.args.len(), 4);
    }

    #[test]
    fn a_hand_numbered_fragment_keeps_numbered_placeholders_on_sqlite() {
        let mut b = QueryBuilder::new("select * from t where org_id = ");
        b.push_bind(1i64).push(" and x in (select y from u where org_id = $1)");
        let q = b.build();
        assert_eq!(q.sqlite_sql, None);
        assert_eq!(q.sql, "select * from t where org_id = $1 and x in (select y from u where org_id = $1)");
    }
}
