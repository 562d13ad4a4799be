//! `/ai`: the team's AI providers (their state, spend this month, test connection), the chain its
//! questions go down and its monthly budget; the model picker used wherever a model is chosen; and
//! "Ask about this note".

use crate::browser;
use crate::components::{Call, ErrorNote, Field, Loading, clock, duration, form_level};
use crate::root::{RequireSession, SessionCtx};
use crate::rpc::{
    add_ai_model, clear_ai_provider, get_ai_settings, list_ai_models, list_ai_providers,
    remove_ai_provider, save_ai_provider, set_ai_settings, test_ai_provider,
};
use api::ApiError;
use api::ai::{
    AiProvider, AiProviderForm, AiSettings, AiSettingsForm, AnswerShown, AnswerStatus,
    ConnectionTest, CustomModelForm, ModelOption, ProviderKind, ProviderShown,
};
use api::ids::NoteId;
use islands_macro::island_in;
use leptos::prelude::*;

/// The providers, the chain and the budget; owners and admins change them.
#[component]
pub fn AiPage() -> impl IntoView {
    let ctx = expect_context::<SessionCtx>();
    let providers = Resource::new(|| (), |_| list_ai_providers());
    let settings = Resource::new(|| (), |_| get_ai_settings());
    let models = Resource::new(|| (), |_| list_ai_models());
    let instance = Resource::new(|| (), |_| crate::rpc::get_instance_ai());
    // Set by the chain form's save, which loads the page again at the form.
    let saved = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("saved").is_some());
    view! {
        <RequireSession>
            <section class="page narrow ai-page">
                <h1>"AI"</h1>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        let manager = match ctx.session.await {
                            Ok(Some(session)) => session.active().is_some_and(|t| t.role.allows(api::tenants::Permission::ManageAi)),
                            _ => false,
                        };
                        let list = match providers.await {
                            Ok(list) => list,
                            Err(error) => return view! { <ErrorNote error/> }.into_any(),
                        };
                        let settings: AiSettings = settings.await.unwrap_or_default();
                        let models = models.await.unwrap_or_default();
                        let embedding_choices = embedding_choices(&models);
                        // Embedding models answer no questions: the chain offers the others.
                        let models: Vec<ModelOption> = models
                            .iter()
                            .filter(|m| m.embedding_dimensions.is_none())
                            .map(ModelOption::from)
                            .collect();
                        let empty = list.is_empty();
                        let instance = instance.await.ok().flatten();
                        // The team's questions go to the server's providers until it has its own.
                        let applies = instance.as_ref().is_some_and(|i| i.applies);
                        let spent = api::ai::usd(settings.spent_this_month_usd);
                        let share = instance.as_ref().and_then(|i| i.team_share.clone()).filter(|_| applies);
                        let spent_line = match (settings.monthly_budget_usd, share) {
                            (Some(limit), _) => format!("Spent this month: {spent} of {}.", api::ai::usd(limit)),
                            (None, Some(share)) => format!("Spent this month: {spent} of {share}, this team's monthly share of the server's providers."),
                            (None, None) => format!("Spent this month: {spent}. No monthly limit."),
                        };
                        let budget = settings
                            .monthly_budget_usd
                            .map(|b| api::ai::usd(b).trim_start_matches('$').to_owned())
                            .unwrap_or_default();
                        let confirm_above = settings
                            .run_confirm_above_usd
                            .map(|b| api::ai::usd(b).trim_start_matches('$').to_owned())
                            .unwrap_or_default();
                        let chain = settings.chain.clone();
                        let fall_over = settings.fall_over_on_refusal;
                        view! {
                            <p class="muted">
                                "Questions go down a chain of models: when one provider is out of credit, refuses the key, is down or gives an empty answer, the next is asked at once, and every attempt is kept."
                            </p>
                            {(empty && applies).then(|| view! {
                                <div class="empty" id="no-providers">
                                    <p><strong>"This team has no AI provider of its own"</strong>": its questions go to the server's providers, listed below. Add one to use your own account or a local model instead."</p>
                                </div>
                            })}
                            {(empty && !applies).then(|| view! {
                                <div class="empty" id="no-providers">
                                    <p><strong>"No AI provider yet."</strong>" Add one below: OpenAI, Anthropic, Gemini or OpenRouter with an API key, or a server on your own machine with no key at all."</p>
                                    <p class="muted">"A local llama.cpp server (llama-server) listens on http://127.0.0.1:8080/v1, Ollama on http://127.0.0.1:11434/v1: pick its kind, keep the address, and list the model it serves."</p>
                                </div>
                            })}
                            <ul class="providers" aria-label="Providers">
                                {list.iter().map(|provider| {
                                    let provider = ProviderShown::from(provider);
                                    let (healthy, name) = (provider.healthy, provider.name.clone());
                                    // The item outside the island: a list holds only items.
                                    view! {
                                        <li class="provider" class:unhealthy=!healthy data-provider=name>
                                            <ProviderCard provider manager/>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {instance.map(|instance| view! { <InstanceProviders instance/> })}
                            {manager.then(|| view! {
                                <h2>"Add a provider"</h2>
                                {applies.then(|| view! {
                                    <p class="notice" id="replaces-instance">"Adding a provider replaces the server's providers for this team: its questions then go only to the team's own providers, down the team's chain."</p>
                                })}
                                <ProviderForm/>
                            })}
                            <h2 id="chain">"Chain and budget"</h2>
                            {applies.then(|| view! {
                                <p class="muted">"Until the team adds a provider, the server's chain above applies; the team's chain and budget below apply to the team's own providers."</p>
                            })}
                            <ChainForm chain fall_over budget confirm_above spent_line models manager saved/>
                            <h2>"Search by meaning"</h2>
                            <EmbeddingModel choices=embedding_choices manager/>
                        }
                        .into_any()
                    })}
                </Transition>
            </section>
        </RequireSession>
    }
}

/// What the embedding model picker offers, as (`provider/model`, label): the models the catalog
/// knows as embedding models first, then every other model of the team's providers (a local
/// server's embedding model is one the team adds).
fn embedding_choices(models: &[api::ai::ModelChoice]) -> Vec<(String, String)> {
    let (known, others): (Vec<_>, Vec<_>) = models
        .iter()
        .partition(|m| m.embedding_dimensions.is_some());
    known
        .into_iter()
        .chain(others)
        .map(|m| {
            let value = format!("{}/{}", m.provider, m.model);
            let label = match m.embedding_dimensions {
                Some(dimensions) => format!("{value} — embedding model, {dimensions} dimensions"),
                None => value.clone(),
            };
            (value, label)
        })
        .collect()
}

/// The instance's providers and chain, read-only: they come from the server's configuration, and
/// answer the team's questions only while the team has no provider of its own.
#[component]
fn InstanceProviders(instance: api::ai::InstanceAi) -> impl IntoView {
    let api::ai::InstanceAi {
        providers,
        chain,
        team_share,
        applies,
    } = instance;
    view! {
        <section class="instance-ai" aria-labelledby="instance-ai-title">
            <h2 id="instance-ai-title">"From the server's configuration"</h2>
            <p class="muted" id="instance-ai-state">{match (applies, team_share) {
                (true, Some(share)) => format!("These answer this team's questions, as it has no provider of its own: up to {share} a month. Set by the server's operator; read-only here."),
                (false, Some(_)) => "Not used by this team: its own providers and chain apply. Set by the server's operator; read-only here.".to_owned(),
                (_, None) => "Kept to the server itself: teams do not use them (no monthly share is set). Read-only here.".to_owned(),
            }}</p>
            <ul class="providers" aria-label="The server's providers">
                {providers.into_iter().map(|p| view! {
                    <li class="provider" class:unhealthy=!p.ready data-instance-provider=p.name.clone()>
                        <div class="provider-head">
                            <strong>{p.name.clone()}</strong>
                            <span class="badge">{p.kind}</span>
                            <span class=if p.ready { "badge state-ok" } else { "badge state-bad" }>{p.state}</span>
                        </div>
                        <p class="mono small">{p.models.join(", ")}</p>
                    </li>
                }).collect_view()}
            </ul>
            <p class="small muted">"Chain: " <span class="mono">{chain.join(" → ")}</span></p>
        </section>
    }
}

/// One provider: its state, spend and models; test connection, clear, remove.
#[island_in(ai)]
fn ProviderCard(provider: ProviderShown, manager: bool) -> impl IntoView {
    let id = provider.id;
    let test = Call::<ConnectionTest>::new();
    let clear = Call::<AiProvider>::new();
    let remove = Call::<()>::new();
    let healthy = provider.healthy;
    let name = provider.name.clone();
    let tested = move || {
        test.value().get().map(|answer| match answer {
            Ok(test) if test.class.is_none() => {
                view! { <p class="success" role="status">{test.message}</p> }.into_any()
            }
            Ok(test) => view! { <p class="error" role="alert">{test.message}</p> }.into_any(),
            Err(error) => view! { <ErrorNote error/> }.into_any(),
        })
    };
    view! {
        <div class="provider-body">
            <div class="provider-head">
                <strong>{provider.name.clone()}</strong>
                <span class="badge">{provider.kind.clone()}</span>
                <span class=if healthy { "badge state-ok" } else { "badge state-bad" }>{provider.state.clone()}</span>
            </div>
            <p class="mono small muted">{provider.base_url.clone()}</p>
            <p class="small">{provider.details.clone()}</p>
            {provider.last_error.clone().map(|error| view! { <p class="small error">{format!("Last error: {error}")}</p> })}
            {manager.then(|| view! {
                <div class="actions">
                    <button class="button small" disabled=move || test.pending().get()
                        on:click=move |_| test.dispatch(test_ai_provider(id))>
                        {move || if test.pending().get() { "Testing…" } else { "Test connection" }}
                    </button>
                    {(!healthy).then(|| view! {
                        <button class="button ghost small" disabled=move || clear.pending().get()
                            on:click=move |_| clear.dispatch_then(clear_ai_provider(id), |_| browser::reload_saying("Cleared: the provider is asked again."))>
                            "Mark as working again"
                        </button>
                    })}
                    <button class="button danger small" disabled=move || remove.pending().get()
                        on:click=move |_| browser::confirm_then(
                            &format!("Remove the provider {name}? Chains that use it stop asking it."),
                            "Remove provider",
                            move || remove.dispatch_then(remove_ai_provider(id), |_| browser::reload_saying("Removed the provider.")),
                        )>
                        "Remove"
                    </button>
                </div>
            })}
            {manager.then(|| view! { <AddModel provider_id=id name=provider.name.clone()/> })}
            {tested}
            {move || clear.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
            {move || remove.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
        </div>
    }
}

/// Adds a model the catalog lacks to a provider: its context window and prices, so costs, budgets
/// and the picker know it. Part of the provider card's island, not one of its own.
#[component]
fn AddModel(provider_id: api::ids::AiProviderId, name: String) -> impl IntoView {
    let id = RwSignal::new(String::new());
    let context_window = RwSignal::new(String::new());
    let price_in = RwSignal::new(String::new());
    let price_out = RwSignal::new(String::new());
    let vision = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let add = Call::<AiProvider>::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = CustomModelForm {
            id: id.get(),
            context_window: context_window.get(),
            price_in: price_in.get(),
            price_out: price_out.get(),
            vision: vision.get(),
        };
        // Checked by the server, whose 422 names the field: parsing prices here would put float
        // parsing in the bundle for a form admins use rarely.
        error.set(None);
        add.dispatch_then(add_ai_model(provider_id, form), |_| {
            browser::reload_saying("Added the model.");
        });
    };
    let field = move |key: &str| format!("{key}-{name}");
    view! {
        <details class="add-model">
            <summary>"Add a model the catalog lacks"</summary>
            <form class="row" on:submit=submit novalidate>
                <label>"Model id"<input id=field("model-id") bind:value=id placeholder="qwen2.5-7b-instruct"/></label>
                <label>"Context (tokens)"<input id=field("model-context") inputmode="numeric" bind:value=context_window placeholder="32768"/></label>
                <label>"$ in / 1M"<input id=field("model-price-in") inputmode="decimal" bind:value=price_in placeholder="0"/></label>
                <label>"$ out / 1M"<input id=field("model-price-out") inputmode="decimal" bind:value=price_out placeholder="0"/></label>
                <label class="check"><input type="checkbox" prop:checked=move || vision.get()
                    on:change=move |ev| vision.set(event_target_checked(&ev))/>" Reads images"</label>
                <button type="submit" class="button small" disabled=move || add.pending().get()>"Add model"</button>
            </form>
            {move || error.get().map(|error| view! { <ErrorNote error/> })}
        </details>
    }
}

/// Adds a provider.
#[island_in(ai)]
fn ProviderForm() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(ProviderKind::OpenAi.as_str().to_owned());
    let base_url = RwSignal::new(String::new());
    let api_key = RwSignal::new(String::new());
    let models = RwSignal::new(String::new());
    let budget_usd = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let save = Call::<AiProvider>::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = AiProviderForm {
            name: name.get(),
            kind: kind.get(),
            base_url: base_url.get(),
            api_key: api_key.get(),
            models: models.get(),
            budget_usd: budget_usd.get(),
        };
        // Checked by the server (see `AddModel`).
        error.set(None);
        save.dispatch_then(save_ai_provider(None, form), |saved| {
            browser::reload_saying(&format!("Added the provider {}.", saved.name));
        });
    };
    let placeholder = move || {
        ProviderKind::parse(&kind.get())
            .and_then(ProviderKind::default_base_url)
            .unwrap_or("https://llm.example.com/v1")
    };
    view! {
        <form class="card-form provider-form" on:submit=submit novalidate>
            <div class="row">
                <Field name="name" label="Name" value=name error required=true hint="Names it in chains: name/model."/>
                <div class="field">
                    <label for="kind">"Kind"</label>
                    <select id="kind" name="kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                        {ProviderKind::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=k == ProviderKind::OpenAi>{k.label()}</option>
                        }).collect_view()}
                    </select>
                </div>
            </div>
            <div class="field">
                <label for="base_url">"API address"</label>
                <input id="base_url" name="base_url" type="url" bind:value=base_url placeholder=placeholder/>
                <small class="hint">"Empty: the kind's usual address, shown greyed."</small>
            </div>
            <Field name="api_key" label="API key" kind="password" value=api_key error autocomplete="new-password"
                hint="Stored encrypted and never shown again. Local servers need none."/>
            <div class="field">
                <label for="models">"Models"</label>
                <textarea id="models" name="models" rows="2" bind:value=models placeholder="gpt-4o-mini"></textarea>
                <small class="hint">"The model ids to use, one per line."</small>
            </div>
            <Field name="budget_usd" label="Its own monthly budget (USD)" value=budget_usd error
                hint="Empty: only the team's budget applies. A question whose worst case would pass it goes to the next model unsent."/>
            {move || error.get().filter(|e| form_level(e, &["name", "api_key", "budget_usd"])).map(|error| view! { <ErrorNote error/> })}
            <button type="submit" class="button primary" disabled=move || save.pending().get()>"Add provider"</button>
        </form>
    }
}

/// One model picker for every place a model is chosen: grouped by provider, with price per
/// million tokens in and out, context window, vision and "fast"; a provider that is out of credit
/// or cooling down is offered greyed out, saying why.
#[component]
pub fn ModelPicker(
    /// The models to offer.
    models: Vec<ModelOption>,
    /// Gets `provider/model` when one is picked.
    on_pick: Callback<String>,
    /// The select's id.
    id: &'static str,
) -> impl IntoView {
    let mut groups: Vec<(String, Vec<ModelOption>)> = Vec::new();
    for model in models {
        match groups.iter_mut().find(|(name, _)| *name == model.provider) {
            Some((_, list)) => list.push(model),
            None => groups.push((model.provider.clone(), vec![model])),
        }
    }
    view! {
        <select id=id class="model-picker" on:change=move |ev| {
            let value = event_target_value(&ev);
            if !value.is_empty() {
                on_pick.run(value);
            }
        }>
            <option value="" selected=true>"Choose a model…"</option>
            {groups.into_iter().map(|(provider, list)| view! {
                <optgroup label=provider>
                    {list.into_iter().map(|m| view! {
                        <option value=m.value disabled=m.disabled>{m.label}</option>
                    }).collect_view()}
                </optgroup>
            }).collect_view()}
        </select>
    }
}

/// The chain (ordered, built with the picker), whether a refusal falls over, and the budget.
#[island_in(ai)]
fn ChainForm(
    chain: Vec<String>,
    fall_over: bool,
    budget: String,
    confirm_above: String,
    spent_line: String,
    models: Vec<ModelOption>,
    manager: bool,
    saved: bool,
) -> impl IntoView {
    let saved = RwSignal::new(saved);
    let chain = RwSignal::new(chain);
    let fall_over = RwSignal::new(fall_over);
    let budget = RwSignal::new(budget);
    let confirm_above = RwSignal::new(confirm_above);
    let error = RwSignal::new(None::<ApiError>);
    let save = Call::<AiSettings>::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = AiSettingsForm {
            chain: chain.get().join("\n"),
            fall_over_on_refusal: fall_over.get(),
            monthly_budget_usd: budget.get(),
            run_confirm_above_usd: confirm_above.get(),
        };
        // Checked by the server (see `AddModel`).
        error.set(None);
        saved.set(false);
        // The spent line and the chain come back as stored; the page opens at the form, which says
        // it saved.
        save.dispatch_then(set_ai_settings(form), |_| {
            browser::go_to("/ai?saved=chain#chain")
        });
    };
    let shift = move |from: usize, to: usize| {
        chain.update(|steps| {
            if from < steps.len() && to < steps.len() {
                steps.swap(from, to);
            }
        });
    };
    view! {
        <form class="card-form chain-form" on:submit=submit novalidate>
            <p class="small">{spent_line}</p>
            <ol class="chain" aria-label="Chain">
                {move || {
                    let steps = chain.get();
                    let last = steps.len().saturating_sub(1);
                    if steps.is_empty() {
                        return view! { <li class="muted">"No chain set: each provider's first model is asked, in name order."</li> }.into_any();
                    }
                    steps.into_iter().enumerate().map(|(n, step)| view! {
                        <li>
                            <span class="mono">{step}</span>
                            {manager.then(|| view! {
                                <span class="actions">
                                    <button type="button" class="button ghost small" disabled=n == 0 aria-label="Move up"
                                        on:click=move |_| shift(n, n.saturating_sub(1))>"↑"</button>
                                    <button type="button" class="button ghost small" disabled=n == last aria-label="Move down"
                                        on:click=move |_| shift(n, n + 1)>"↓"</button>
                                    <button type="button" class="button ghost small" aria-label="Remove from the chain"
                                        on:click=move |_| chain.update(|steps| { steps.remove(n); })>"✕"</button>
                                </span>
                            })}
                        </li>
                    }).collect_view().into_any()
                }}
            </ol>
            {manager.then(|| view! {
                <div class="field">
                    <label for="add-model">"Add a model to the chain"</label>
                    <ModelPicker models=models.clone() id="add-model"
                        on_pick=Callback::new(move |step: String| chain.update(|steps| {
                            if !steps.contains(&step) { steps.push(step); }
                        }))/>
                </div>
                <label class="check">
                    <input type="checkbox" id="fall_over_on_refusal" prop:checked=move || fall_over.get()
                        on:change=move |ev| fall_over.set(event_target_checked(&ev))/>
                    " When a model refuses the content, ask the next one (off: the question fails with the refusal)"
                </label>
                <Field name="monthly_budget_usd" label="Monthly budget (USD)" value=budget error
                    hint="Empty: no limit. A question whose worst case would pass it is refused before it is sent."/>
                <Field name="run_confirm_above_usd" label="Confirm workflow runs above (USD)" value=confirm_above error
                    hint="Empty: never asked. A run whose worst case passes it starts only once you confirm."/>
                {move || error.get().filter(|e| form_level(e, &["monthly_budget_usd", "run_confirm_above_usd"])).map(|error| view! { <ErrorNote error/> })}
                <div class="form-actions">
                    <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save chain and budget"</button>
                    <Show when=move || saved.get()>
                        <span class="success" role="status">"Saved the chain and budget."</span>
                    </Show>
                </div>
            })}
        </form>
    }
}

/// One kept answer.
#[component]
fn AnswerView(answer: AnswerShown) -> impl IntoView {
    let failed = answer.status == AnswerStatus::Failed;
    view! {
        <li class="answer" class:failed=failed>
            <p class="question"><strong>"Q: "</strong>{answer.question}</p>
            {if answer.html.is_empty() {
                view! { <p class=if failed { "error answer-text" } else { "answer-text" }>{cited(&answer.text, &answer.sources)}</p> }.into_any()
            } else {
                view! { <div class="answer-text markdown" inner_html=answer.html></div> }.into_any()
            }}
            <p class="small muted trail">{answer.meta}</p>
            {(!answer.sources.is_empty()).then(|| view! {
                <div class="sources">
                    <p class="small muted">"Sources sent with the question:"</p>
                    <ol>
                        {answer.sources.into_iter().map(|source| view! {
                            <li id=format!("source-{}", source.n)>
                                <a href=source.link.clone()>{source.label()}</a>
                                <details>
                                    <summary class="small muted">"What the model saw"</summary>
                                    <pre class="output">{source.text}</pre>
                                </details>
                            </li>
                        }).collect_view()}
                    </ol>
                </div>
            })}
        </li>
    }
}

/// An answer as the page shows it: on the server, its Markdown rendered.
pub fn shown(answer: &api::ai::NoteAnswer) -> AnswerShown {
    #[cfg(feature = "ssr")]
    return services::ai::shown(answer);
    #[cfg(not(feature = "ssr"))]
    AnswerShown::from(answer)
}

/// "Ask about this note": the question goes down the team's chain with the note's text and images.
/// The question shows at once, then which model is being asked (and why the one before gave no
/// answer), then the answer as it is written, with a Stop button; Ctrl/Cmd+Enter sends. The
/// stored answer stays on the note with its trail, its Markdown rendered by the server.
#[island_in(notes)]
pub fn AskPanel(note_id: NoteId, answers: Vec<AnswerShown>, available: bool) -> impl IntoView {
    let question = RwSignal::new(String::new());
    // The question being answered, the model being asked, and the answer so far.
    let asked = RwSignal::new(None::<String>);
    let trying = RwSignal::new(String::new());
    let streaming = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let answers = RwSignal::new(answers);
    // Set by Stop, so the ending knows the cut request was asked for.
    let stopping = RwSignal::new(false);
    let send = move || {
        if asked.get_untracked().is_some() {
            return;
        }
        let text = question.get_untracked();
        let text = match api::ai::parse_question(&text) {
            Ok(text) => text,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        streaming.set(String::new());
        trying.set(String::new());
        stopping.set(false);
        asked.set(Some(text.clone()));
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            use crate::ask::Heard;
            let answer = crate::ask::ask(note_id, text, move |heard| match heard {
                Heard::Trying(next) => {
                    trying.set(next.said());
                    streaming.set(String::new());
                }
                Heard::Text(piece) => streaming.update(|s| s.push_str(&piece)),
            })
            .await;
            let stopped = stopping.get_untracked();
            match answer {
                Ok(answer) => {
                    answers.update(|list| list.insert(0, answer));
                    question.set(String::new());
                }
                // Stopped here: what was written stays on screen; the server keeps the answer as
                // stopped, with its cost.
                Err(_) if stopped => {
                    let written = streaming.get_untracked();
                    answers.update(|list| {
                        list.insert(
                            0,
                            AnswerShown {
                                question: asked.get_untracked().unwrap_or_default(),
                                status: AnswerStatus::Failed,
                                text: if written.is_empty() {
                                    "Stopped before any answer was written.".to_owned()
                                } else {
                                    written
                                },
                                meta: "Stopped. The note keeps it as stopped, with what it cost; ask again for a whole answer.".to_owned(),
                                sources: Vec::new(),
                                html: String::new(),
                            },
                        );
                    });
                }
                Err(e) => error.set(Some(e)),
            }
            streaming.set(String::new());
            asked.set(None);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (note_id, text);
    };
    let stop = move |_| {
        stopping.set(true);
        #[cfg(feature = "hydrate")]
        crate::ask::stop();
    };
    view! {
        <section class="ask" aria-label="Ask about this note">
            <h3>"Ask about this note"</h3>
            {if available {
                view! {
                    <form class="ask-form" novalidate on:submit=move |ev| { ev.prevent_default(); send(); }>
                        <label class="visually-hidden" for="question">"Question"</label>
                        <textarea id="question" name="question" rows="2" bind:value=question
                            aria-describedby="question-hint"
                            placeholder="What does the error in the screenshots mean?"
                            on:keydown=move |ev| {
                                if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
                                    ev.prevent_default();
                                    send();
                                }
                            }></textarea>
                        <div class="ask-actions">
                            <button type="submit" class="button primary" disabled=move || asked.get().is_some()>
                                {move || if asked.get().is_some() { "Asking…" } else { "Ask" }}
                            </button>
                            <span id="question-hint" class="small muted"><kbd>"Ctrl"</kbd>" or "<kbd>"⌘"</kbd>" + "<kbd>"Enter"</kbd>" sends"</span>
                        </div>
                    </form>
                }.into_any()
            } else {
                view! {
                    <p class="empty">"No AI provider is set up for this team yet. An owner or admin adds one on the "<a href="/ai">"AI page"</a>"; a local llama.cpp or Ollama server works too."</p>
                }.into_any()
            }}
            {move || error.get().map(|error| view! { <ErrorNote error/> })}
            {move || asked.get().map(|text| view! {
                <div class="answer streaming" aria-live="polite" aria-busy="true">
                    <p class="question"><strong>"Q: "</strong>{text}</p>
                    <p class="small muted trying" role="status">
                        {move || { let now = trying.get(); if now.is_empty() { "Sending the question…".to_owned() } else { now } }}
                    </p>
                    <p class="answer-text">{move || streaming.get()}</p>
                    <button type="button" class="button small stop" on:click=stop>"Stop"</button>
                </div>
            })}
            <ul class="answers" aria-label="Answers">
                {move || answers.get().into_iter().map(|answer| view! { <AnswerView answer/> }).collect_view()}
            </ul>
        </section>
    }
}

/// The team's embedding model: its spaces (the active one search uses, one building beside it,
/// retired ones kept until removed), choosing another model, and indexing now.
#[island_in(ai)]
fn EmbeddingModel(choices: Vec<(String, String)>, manager: bool) -> impl IntoView {
    // Read again every second while anything is left to embed: the bar moves as vectors land.
    let tick = RwSignal::new(0u32);
    let indexing = Resource::new(move || tick.get(), |_| crate::rpc::get_knowledge_indexing());
    Effect::new(move |_| {
        if indexing
            .get()
            .is_some_and(|now| now.is_ok_and(|now| now.busy()))
        {
            set_timeout(
                move || tick.update(|t| *t += 1),
                std::time::Duration::from_secs(1),
            );
        }
    });
    let again = move || tick.update(|t| *t += 1);
    let chosen = RwSignal::new(
        choices
            .first()
            .map(|(value, _)| value.clone())
            .unwrap_or_default(),
    );
    let error = RwSignal::new(None::<api::ApiError>);
    let status = RwSignal::new(None::<String>);
    let choose = Call::<api::knowledge::EmbeddingSpace>::reporting_to(error);
    let drop = Call::<u64>::reporting_to(error);
    let index = Call::<Option<api::ids::JobId>>::reporting_to(error);
    let on_choose = move |_| {
        let picked = chosen.get_untracked();
        let Some((provider, model)) = picked.split_once('/') else {
            return;
        };
        status.set(None);
        choose.dispatch_then(
            crate::rpc::choose_embedding_model(api::knowledge::EmbeddingChoice {
                provider: provider.to_owned(),
                model: model.to_owned(),
            }),
            move |space| {
                status.set(Some(format!(
                    "{}/{} chosen ({} dimensions): its index is being built; search keeps the current model until it is complete.",
                    space.provider, space.model, space.dimensions
                )));
                again();
            },
        );
    };
    view! {
        <p class="muted">"Search ranks by words, and by meaning once the team has an embedding model: every file, note, report and insight is embedded in the background. Changing the model builds a new index beside the current one; search switches when it is complete."</p>
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match indexing.await {
                    Ok(now) if now.spaces.is_empty() => view! { <p id="no-space">"No embedding model: search ranks by words only."</p> }.into_any(),
                    Ok(now) => view! {
                        <ul class="spaces" aria-label="Embedding models">
                            {now.spaces.into_iter().map(|space| view! { <Space space manager drop again/> }).collect_view()}
                        </ul>
                        <IndexingLine state=now.state/>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
        {manager.then(|| view! {
            <div class="actions">
                <label class="visually-hidden" for="embedding-model">"Embedding model"</label>
                <select id="embedding-model" on:change=move |ev| chosen.set(event_target_value(&ev))>
                    {choices.iter().map(|(value, label)| view! { <option value=value.clone()>{label.clone()}</option> }).collect_view()}
                </select>
                <button class="button" name="choose-embedding" disabled=move || choose.pending().get() on:click=on_choose>"Use for search"</button>
                <button class="button ghost" disabled=move || index.pending().get()
                    on:click=move |_| index.dispatch_then(crate::rpc::start_knowledge_indexing(), move |job| {
                        status.set(Some(match job {
                            Some(_) => "Indexing started.".to_owned(),
                            None => "Indexing is already queued.".to_owned(),
                        }));
                        again();
                    })>"Index now"</button>
            </div>
            <p class="muted small">"A provider's embedding model (text-embedding-3-small, or the name a local server serves) is added to its models above."</p>
        })}
        {move || status.get().map(|said| view! { <p class="success" role="status">{said}</p> })}
        {move || error.get().map(|error| view! { <ErrorNote error/> })}
    }
}

/// One embedding space: its model and state; while it lacks vectors, a bar with the rate and the
/// time left; a retired one's Remove (owners and admins).
#[component]
fn Space(
    space: api::knowledge::EmbeddingSpace,
    manager: bool,
    drop: Call<u64>,
    again: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = space.id;
    let vectors = space.vectors;
    let retired = space.status == api::knowledge::SpaceStatus::Retired;
    let filling = !retired && space.vectors < space.chunks;
    let left = space.chunks.saturating_sub(space.vectors);
    let pace = if space.per_second > 0.0 {
        format!(
            " · {:.0} a second · about {} left",
            space.per_second,
            duration((left as f64 / space.per_second).ceil() as u64)
        )
    } else {
        String::new()
    };
    view! {
        <li data-status=space.status.as_str()>
            <strong>{format!("{}/{}", space.provider, space.model)}</strong>
            " " <span class="badge">{space.status.as_str()}</span>
            <span class="muted">{format!(" · {} dimensions · {} of {} embedded", space.dimensions, space.vectors, api::count(space.chunks, "chunk", "chunks"))}</span>
            {(retired && manager).then(|| view! {
                <button class="button ghost small danger-text" disabled=move || drop.pending().get()
                    on:click=move |_| crate::browser::confirm_then(
                        &format!("Remove this retired model and its {vectors} vectors? This cannot be undone."),
                        "Remove model",
                        move || drop.dispatch_then(crate::rpc::drop_embedding_space(id), move |_| again()),
                    )>"Remove"</button>
            })}
            {filling.then(|| view! {
                <div class="backfill">
                    <progress max=space.chunks.max(1) value=space.vectors
                        aria-label=format!("{}/{} embedded", space.provider, space.model)></progress>
                    <small class="muted backfill-line">{format!("{left} to go{pace}")}</small>
                </div>
            })}
        </li>
    }
}

/// What the team's indexing is doing, when it is not simply working or done.
#[component]
fn IndexingLine(state: api::knowledge::IndexingState) -> impl IntoView {
    use api::knowledge::IndexingState;
    match state {
        IndexingState::Waiting { reason, retry_at } => Some(view! {
            <p class="warning" id="indexing-state">{format!("Waiting until {}: {reason}", clock(&retry_at))}</p>
        }.into_any()),
        IndexingState::Failed { reason } => Some(view! {
            <p class="error" id="indexing-state">{format!("Indexing failed: {reason}. Index now tries again.")}</p>
        }.into_any()),
        IndexingState::Idle | IndexingState::Working => None,
    }
}

/// An answer's text with each citation of a source it was sent (`[2]`) as a link to that source.
fn cited(text: &str, sources: &[api::knowledge::CitedSource]) -> impl IntoView + use<> {
    let mut parts: Vec<AnyView> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']');
        let source = close
            .and_then(|close| after[..close].parse::<u32>().ok())
            .and_then(|n| sources.iter().find(|s| s.n == n));
        match (close, source) {
            (Some(close), Some(source)) => {
                parts.push(rest[..open].to_owned().into_any());
                parts.push(
                    view! { <a class="cite" href=source.link.clone() title=source.label()>{format!("[{}]", source.n)}</a> }
                        .into_any(),
                );
                rest = &after[close + 1..];
            }
            _ => {
                parts.push(rest[..=open].to_owned().into_any());
                rest = after;
            }
        }
    }
    parts.push(rest.to_owned().into_any());
    parts
}
