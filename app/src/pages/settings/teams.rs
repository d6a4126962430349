//! Settings → Teams: everyone reads teams and members; admins create teams and change members.
use leptos::prelude::*;
use leptos_meta::Title;

use super::SettingsTabs;
use crate::api::{list_teams, whoami, CreateTeam, SetTeamMember, TeamInfo};
use crate::components::{ActionResult, ErrorNotice};
use crate::domain::Right;

#[component]
pub fn TeamsPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let create = ServerAction::<CreateTeam>::new();
    let member = ServerAction::<SetTeamMember>::new();
    let create_saved = crate::components::saves(create);
    let member_saved = crate::components::saves(member);
    let teams = Resource::new(move || (create_saved.get(), member_saved.get()), |_| list_teams());
    view! {
        <Title text="Teams · Costroom"/>
        <h1>"Teams"</h1>
        <SettingsTabs/>
        <Transition fallback=|| view! { <p class="muted">"Loading teams…"</p> }>
            {move || Suspend::new(async move {
                let admin = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ManagePeople));
                match teams.await {
                    Ok(list) => view! { <TeamsTable list admin member create/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
        <ActionResult value=move || member.value().get() testid="member-result" done=|_: &()| "Membership saved.".to_string()/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let admin = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ManagePeople));
                admin.then(|| view! {
                    <section class="panel form-panel">
                        <h2>"Create a team"</h2>
                        <ActionForm action=create node_ref=crate::components::reset_on_success(create) attr:class="stack">
                            <label>
                                "Slug (lower-case letters, digits, dashes; used in events and imports)"
                                <input name="slug" required pattern="[a-z0-9][a-z0-9-]*" data-testid="team-slug"/>
                            </label>
                            <label>"Display name" <input name="name" data-testid="team-name"/></label>
                            <button type="submit" data-testid="team-submit">"Create team"</button>
                        </ActionForm>
                        <ActionResult value=move || create.value().get() testid="team-result" done=|_: &()| "Team created.".to_string()/>
                    </section>
                })
            })}
        </Suspense>
    }
}

#[component]
fn TeamsTable(
    list: Vec<TeamInfo>,
    admin: bool,
    member: ServerAction<SetTeamMember>,
    create: ServerAction<CreateTeam>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted">"No teams yet."</p> }.into_any();
    }
    view! {
        <div class="panel">
            <table class="grid" data-testid="teams">
                <thead>
                    <tr>
                        <th>"Team"</th>
                        <th>"Name"</th>
                        <th>"Members"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|t| {
                            let slug = t.slug.clone();
                            if t.spend_only {
                                let shown = slug.clone();
                                let create_it = admin.then(move || view! {
                                    <ActionForm action=create attr:class="inline">
                                        <input type="hidden" name="slug" value=slug.clone()/>
                                        <input type="hidden" name="name" value=slug.clone()/>
                                        <button type="submit" data-testid=format!("create-team-{slug}")>"Create this team"</button>
                                    </ActionForm>
                                });
                                return view! {
                                    <tr data-testid=format!("team-{shown}") data-spend-only="true">
                                        <td>{shown.clone()}</td>
                                        <td class="muted">"Seen in spend, not created yet (no members or keys until it is)"</td>
                                        <td>{create_it}</td>
                                    </tr>
                                }
                                .into_any();
                            }
                            let members = t
                                .members
                                .clone()
                                .into_iter()
                                .map(|email| {
                                    let (slug, shown) = (slug.clone(), email.clone());
                                    let remove = admin.then(|| view! {
                                        <ActionForm action=member attr:class="inline">
                                            <input type="hidden" name="team" value=slug.clone()/>
                                            <input type="hidden" name="email" value=email.clone()/>
                                            <input type="hidden" name="member" value="false"/>
                                            <button type="submit" class="link" aria-label=format!("Remove {email} from {slug}")>"×"</button>
                                        </ActionForm>
                                    });
                                    view! { <li>{shown} {remove}</li> }
                                })
                                .collect_view();
                            let add = admin.then(move || view! {
                                <ActionForm action=member attr:class="inline">
                                    <input type="hidden" name="team" value=slug.clone()/>
                                    <input type="hidden" name="member" value="true"/>
                                    <input type="email" name="email" required placeholder="e-mail" aria-label=format!("Add to {slug}") data-testid=format!("add-member-{slug}")/>
                                    " "
                                    <button type="submit" data-testid=format!("add-member-submit-{slug}")>"Add"</button>
                                </ActionForm>
                            });
                            view! {
                                <tr data-testid=format!("team-{}", t.slug)>
                                    <td>{t.slug.clone()}</td>
                                    <td>{t.name.clone()}</td>
                                    <td>
                                        <ul class="plain">{members}</ul>
                                        {add}
                                    </td>
                                </tr>
                            }
                            .into_any()
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
