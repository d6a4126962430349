//! `costroom user`, `costroom key` and `costroom prices`: what an operator provisions.
use std::time::Instant;

use anyhow::Context;
use app::server::db::Actor;
use app::server::services;

use super::open;
use app::error::AppError;
use app::server::auth::password::random_secret;
use app::server::services::keys::{KeyHasher, KeyRequest};
use app::server::services::users::AddUser;

use super::{KeyCommand, PricesCommand, TeamCommand, UpstreamCommand, UserAddArgs};

pub(super) async fn user_add(url: &str, args: UserAddArgs) -> anyhow::Result<()> {
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("--password-stdin")?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (random_secret(20), true)
    };
    let name = args.name.unwrap_or_else(|| args.email.split('@').next().unwrap_or_default().to_string());
    let (db, org) = open(url).await?;
    let input =
        AddUser { email: args.email, name, role: args.role, password: password.clone(), team: args.team };
    let user = services::users::add_user(&db, org, &Actor::cli(), input).await?;
    println!("added {} ({}) as {}", user.email, user.name, user.role);
    if generated {
        // shown once; only the argon2id hash is stored
        println!("password: {password}");
    }
    db.close().await;
    Ok(())
}

pub(super) async fn team(url: &str, cmd: TeamCommand) -> anyhow::Result<()> {
    let (db, org) = open(url).await?;
    match cmd {
        TeamCommand::Add { slug, name } => {
            services::users::create_team(&db, org, &Actor::cli(), &slug, &name).await?;
            println!("created team {}", slug.trim());
        }
        TeamCommand::List => {
            for t in db.list_teams(org).await? {
                println!("{:<20} {:<30} {}", t.slug, t.name, t.members.join(", "));
            }
        }
    }
    db.close().await;
    Ok(())
}

/// The server's secret key from the environment, as `costroom serve` reads it.
fn sealer() -> anyhow::Result<Option<app::server::auth::sealer::Sealer>> {
    app::server::auth::sealer::Sealer::from_env().map_err(|e| anyhow::anyhow!(e))
}

pub(super) async fn upstream(url: &str, cmd: UpstreamCommand) -> anyhow::Result<()> {
    use app::server::services::gateway;
    let (db, org) = open(url).await?;
    // the same egress policy as the server's webhooks and gateway
    let allow = std::env::var("COSTROOM_WEBHOOK_ALLOW").unwrap_or_default();
    let allow = app::domain::egress::AllowList::parse(&allow)
        .map_err(|e| anyhow::anyhow!("COSTROOM_WEBHOOK_ALLOW: {e}"))?;
    let egress = services::webhooks::Egress::new(allow);
    let gw = gateway::Gateway::new(&egress, sealer()?)?;
    match cmd {
        UpstreamCommand::Set { provider, base_url, key_file } => {
            let key = match key_file {
                None => None,
                Some(path) if path.as_os_str() == "-" => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).context("--key-file -: reading standard input")?;
                    Some(line.trim().to_string())
                }
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("--key-file: cannot read {}", path.display()))?
                        .trim()
                        .to_string(),
                ),
            };
            let u = gateway::save_upstream(
                &db,
                &gw,
                &egress,
                org,
                &Actor::cli(),
                gateway::UpstreamInput { provider: &provider, base_url: &base_url, key: key.as_deref() },
            )
            .await?;
            println!("{} upstream {} (key {})", u.provider, u.base_url, u.key_hint);
        }
        UpstreamCommand::List => {
            for u in gateway::upstreams(&db, &gw, org).await? {
                let state = if u.usable { "ready" } else { "key cannot be opened by this secret key" };
                println!("{:<10} {:<40} key {}  {state}", u.provider, u.base_url, u.key_hint);
            }
        }
        UpstreamCommand::Remove { provider } => {
            gateway::delete_upstream(&db, org, &Actor::cli(), provider.trim()).await?;
            println!("removed the {} upstream", provider.trim());
        }
    }
    db.close().await;
    Ok(())
}

pub(super) async fn rotate_secret(url: &str) -> anyhow::Result<()> {
    let sealer = sealer()?.context("COSTROOM_SECRET_KEY or COSTROOM_SECRET_KEY_FILE: set the new key")?;
    let (db, _) = open(url).await?;
    let r = services::gateway::rotate(&db, &sealer).await?;
    println!(
        "resealed {} provider keys under key {}; {} already were; {} could not be opened (see the log)",
        r.resealed,
        sealer.current_id(),
        r.current,
        r.unreadable
    );
    db.close().await;
    if r.unreadable > 0 {
        anyhow::bail!(
            "{} provider keys were sealed under a key not in COSTROOM_PREVIOUS_SECRET_KEYS",
            r.unreadable
        );
    }
    Ok(())
}

pub(super) async fn key(url: &str, cmd: KeyCommand) -> anyhow::Result<()> {
    let (db, org) = open(url).await?;
    match cmd {
        KeyCommand::Create(a) => {
            let hasher = KeyHasher::load(&db).await?;
            let req = KeyRequest {
                name: a.name,
                team: a.team,
                scopes: a.scopes,
                initiative: a.initiative,
                expires_in_days: a.expires_in_days,
                actor: Actor::cli(),
            };
            let created = services::keys::create_key(&db, &hasher, org, req).await?;
            let k = &created.key;
            println!(
                "created key '{}' (prefix {}) for team {} with scopes {}",
                k.name, k.prefix, k.team, k.scopes
            );
            // the only time the secret exists outside the caller: not logged, not stored
            println!("secret (shown once): {}", created.token);
        }
        KeyCommand::List => {
            for k in db.list_api_keys(org).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{}  {:<24} team {:<12} {:<24} {state}", k.prefix, k.name, k.team, k.scopes);
            }
        }
        KeyCommand::Revoke { prefix } => {
            let key =
                services::keys::revoke_key(&db, org, &Actor::cli(), &prefix).await.map_err(|e| match e {
                    AppError::NotFound(_) | AppError::Invalid(_) => {
                        anyhow::anyhow!("--prefix: no active key with prefix '{}'", prefix.trim())
                    }
                    other => other.into(),
                })?;
            println!("revoked {} ({})", key.prefix, key.name);
        }
    }
    db.close().await;
    Ok(())
}

pub(super) async fn prices(url: &str, cmd: PricesCommand) -> anyhow::Result<()> {
    use services::prices::{
        ensure_public_list, import_price_list, parse_litellm_list, preview_price_list, recompute,
        update_public_list, PriceCache,
    };
    let (db, org) = open(url).await?;
    ensure_public_list(&db).await?;
    let cache = PriceCache::default();
    let t = Instant::now();
    let report = match cmd {
        PricesCommand::Import { file, effective_from, dry_run } => {
            let json = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
            if dry_run {
                let p = preview_price_list(&db, org, &json, effective_from)
                    .await
                    .with_context(|| file.display().to_string())?;
                println!(
                    "dry run, nothing stored: {} new, {} changed, {} unchanged from {effective_from}",
                    p.new.len(),
                    p.changed.len(),
                    p.unchanged
                );
                for m in &p.new {
                    println!("new      {m}");
                }
                for (m, diff) in &p.changed {
                    for (field, old, new) in diff {
                        println!("changed  {m}  {field}: {old} → {new}");
                    }
                }
                print_unbilled(&p.unbilled);
                db.close().await;
                return Ok(());
            }
            // parsed again by the import; cheap, and the note comes before the long re-price
            if let Ok(list) = parse_litellm_list(&json) {
                print_unbilled(&list.unbilled);
            }
            let (n, report) = import_price_list(&db, &cache, org, &Actor::cli(), &json, effective_from)
                .await
                .with_context(|| file.display().to_string())?;
            println!("imported {n} prices in force from {effective_from}");
            report
        }
        PricesCommand::Update { file, from, dry_run } => {
            let json = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
            let from = from.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let u = update_public_list(&db, &cache, org, &Actor::cli(), &json, from, dry_run)
                .await
                .with_context(|| file.display().to_string())?;
            let stored = if dry_run { "dry run, nothing stored" } else { "public list updated" };
            println!(
                "{stored} ({}): {} new, {} changed from {from}, {} unchanged",
                u.format,
                u.new.len(),
                u.changed.len(),
                u.unchanged
            );
            for m in &u.new {
                println!("new      {m}");
            }
            for m in &u.changed {
                println!("changed  {m}");
            }
            for i in &u.ignored {
                println!("ignored  {i}");
            }
            print_unbilled(&u.unbilled);
            db.close().await;
            return Ok(());
        }
        PricesCommand::Recompute { since } => {
            let book = cache.book(&db, org).await?;
            recompute(&db, org, &Actor::cli(), since, &book, |done| eprint!("\rre-pricing: {done} events"))
                .await?
        }
    };
    eprintln!();
    println!(
        "re-priced {} of {} events: {} → {} ({} still without a price) · {:.1}s",
        report.changed,
        report.examined,
        report.before.usd(),
        report.after.usd(),
        report.unpriced,
        t.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}

/// Names the keys of a price list the book does not bill (a per-image price, a misspelt rate),
/// with the models that carry them.
fn print_unbilled(unbilled: &std::collections::BTreeMap<String, Vec<String>>) {
    for (key, models) in unbilled {
        let more = if models.len() > 3 { format!(", … ({} models)", models.len()) } else { String::new() };
        let shown: Vec<&str> = models.iter().take(3).map(String::as_str).collect();
        println!("not billed: {key} ({}{more})", shown.join(", "));
    }
}
