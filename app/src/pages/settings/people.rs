//! Settings → People: everyone reads the list; admins add people, change roles, disable.
use leptos::prelude::*;
use leptos_meta::Title;

use super::SettingsTabs;
use crate::api::{list_people, list_teams, whoami, AddPerson, ChangeRole, Person, SetDisabled};
use crate::components::{ActionResult, ErrorNotice};
use crate::domain::{Right, Role};

#[component]
pub fn PeoplePage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let add = ServerAction::<AddPerson>::new();
    let role = ServerAction::<ChangeRole>::new();
    let disable = ServerAction::<SetDisabled>::new();
    let add_saved = crate::components::saves(add);
    let teams = Resource::new(move || add_saved.get(), |_| list_teams());
    let role_saved = crate::components::saves(role);
    let disable_saved = crate::components::saves(disable);
    let people =
        Resource::new(move || (add_saved.get(), role_saved.get(), disable_saved.get()), |_| list_people());
    view! {
        <Title text="People · Costroom"/>
        <h1>"People"</h1>
        <SettingsTabs/>
        <Transition fallback=|| view! { <p class="muted">"Loading people…"</p> }>
            {move || Suspend::new(async move {
                let admin = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ManagePeople));
                match people.await {
                    Ok(list) => view! { <PeopleTable list admin role disable/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
        <ActionResult value=move || role.value().get() testid="role-result" done=|p: &Person| format!("{} is now {}.", p.email, p.role)/>
        <ActionResult
            value=move || disable.value().get()
            testid="disable-result"
            done=|p: &Person| format!("{} is {}.", p.email, if p.disabled { "disabled" } else { "enabled" })
        />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let admin = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ManagePeople));
                let known: Vec<String> = teams
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| !t.spend_only)
                    .map(|t| t.slug)
                    .collect();
                admin.then(|| view! { <AddPersonForm add known/> })
            })}
        </Suspense>
    }
}

#[component]
fn PeopleTable(
    list: Vec<Person>,
    admin: bool,
    role: ServerAction<ChangeRole>,
    disable: ServerAction<SetDisabled>,
) -> impl IntoView {
    view! {
        <div class="panel">
            <table class="grid" data-testid="people">
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th>"E-mail"</th>
                        <th>"Role"</th>
                        <th>"Teams"</th>
                        <th>"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|p| {
                            let status = if p.disabled { "disabled" } else { "active" };
                            let role_cell = if admin {
                                view! { <RoleForm p=p.clone() role/> }.into_any()
                            } else {
                                view! { <span>{p.role.to_string()}</span> }.into_any()
                            };
                            let toggle_id = format!("toggle-{}", p.email);
                            let status_cell = if admin {
                                view! {
                                    <ActionForm action=disable attr:class="inline">
                                        <input type="hidden" name="user_id" value=p.id/>
                                        <input type="hidden" name="disabled" value=(!p.disabled).to_string()/>
                                        {status}
                                        " "
                                        <button type="submit" data-testid=toggle_id>
                                            {if p.disabled { "Enable" } else { "Disable" }}
                                        </button>
                                    </ActionForm>
                                }
                                    .into_any()
                            } else {
                                view! { <span>{status}</span> }.into_any()
                            };
                            view! {
                                <tr data-testid=format!("person-{}", p.email)>
                                    <td>{p.name.clone()}</td>
                                    <td>{p.email.clone()}</td>
                                    <td>{role_cell}</td>
                                    <td>{p.teams.join(", ")}</td>
                                    <td>{status_cell}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn RoleForm(p: Person, role: ServerAction<ChangeRole>) -> impl IntoView {
    view! {
        <ActionForm action=role attr:class="inline">
            <input type="hidden" name="user_id" value=p.id/>
            <select name="role" aria-label=format!("Role of {}", p.email) data-testid=format!("role-{}", p.email)>
                {Role::ALL
                    .into_iter()
                    .map(|r| view! { <option value=r.as_str() selected=r == p.role>{r.as_str()}</option> })
                    .collect_view()}
            </select>
            " "
            <button type="submit" data-testid=format!("save-role-{}", p.email)>"Save"</button>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn AddPersonForm(add: ServerAction<AddPerson>, known: Vec<String>) -> impl IntoView {
    view! {
        <section class="panel form-panel">
            <datalist id="known-teams">{known.into_iter().map(|t| view! { <option value=t/> }).collect_view()}</datalist>
            <h2>"Add a person"</h2>
            <p class="muted">"Pass the initial password on to them; they change it under My account."</p>
            <ActionForm action=add node_ref=crate::components::reset_on_success(add) attr:class="stack" attr:data-testid="add-person">
                <label>"Name" <input name="name" required data-testid="person-name"/></label>
                <label>"E-mail" <input type="email" name="email" required data-testid="person-email"/></label>
                <label>
                    "Role"
                    <select name="role" data-testid="person-role">
                        {Role::ALL
                            .into_iter()
                            .map(|r| view! { <option value=r.as_str() selected=r == Role::Viewer>{r.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>"Team (optional; type to search)" <input name="team" list="known-teams" autocomplete="off" data-testid="person-team"/></label>
                <label><input type="checkbox" name="create_team" value="on" data-testid="person-create-team"/> " Create this team (when it does not exist yet)"</label>
                <label>
                    "Initial password (at least 12 characters)"
                    <input type="password" name="password" required minlength="12" autocomplete="new-password" data-testid="person-password"/>
                </label>
                <button type="submit" data-testid="person-submit">"Add person"</button>
            </ActionForm>
            <ActionResult value=move || add.value().get() testid="add-result" done=|p: &Person| format!("Added {} as {}.", p.email, p.role)/>
        </section>
    }
    .into_any()
}
