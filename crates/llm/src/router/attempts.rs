//! The one attempt loop every kind of call goes through (a chat answered whole, a streamed chat,
//! embeddings): down the targets in order, each attempt classified and recorded, the class
//! deciding whether to retry the same model (after a pause honouring `Retry-After`), to move on,
//! or to end the call. What differs between kinds of call (how an attempt is sent, what makes an
//! answer acceptable, which failures another target may cure) is the `Call` they implement.

use super::{Budget, CallFailed, ChainStep, Health, Outcome, Provider, Router, Timing, millis};
use crate::catalog::ModelInfo;
use crate::classify;
use api::ai::{Attempt, FailureClass};
use std::time::{Instant, SystemTime};

/// One target of a call: a model of a provider.
pub(super) struct Target<'a> {
    /// The provider's name.
    pub name: &'a str,
    pub provider: &'a Provider,
    /// The model's id, as the caller named it.
    pub model_id: &'a str,
    /// What the catalog knows of it.
    pub model: ModelInfo,
}

/// What a failed attempt means for the call, beyond a retry of the same model.
pub(super) enum AfterFailure {
    /// Another target may do better.
    NextTarget,
    /// No other target would: the call fails now.
    EndCall,
}

/// A kind of call, as the attempt loop drives it.
pub(super) trait Call {
    /// What a successful attempt brings back.
    type Value;

    /// Whether `target` is passed over without an attempt (a context window already known to be
    /// too small).
    fn skip(&self, _target: &Target<'_>) -> bool {
        false
    }

    /// The most an attempt at `target` can cost: a budget refuses a target whose worst case
    /// exceeds what is left.
    fn worst_case(&self, target: &Target<'_>) -> f64;

    /// Sends one attempt.
    async fn send(
        &mut self,
        router: &Router,
        target: &Target<'_>,
        timing: &mut Timing,
    ) -> Outcome<Self::Value>;

    /// An attempt at `target` is about to be sent; `earlier` are the call's attempts so far
    /// (made, or passed over). A watcher is told.
    fn starting(&mut self, _target: &Target<'_>, _earlier: &[Attempt]) {}

    /// The tokens a successful attempt used (in, out).
    fn tokens(value: &Self::Value) -> (u32, u32);

    /// Refuses a successful attempt's value that is not acceptable (output that does not match
    /// its schema): the attempt fails as `invalid_output`.
    fn check(&self, _value: &Self::Value) -> Result<(), String> {
        Ok(())
    }

    /// After a failure that is not retried on the same model: move on, or end the call.
    fn after_failure(
        &mut self,
        class: FailureClass,
        target: &Target<'_>,
        timing: &Timing,
    ) -> AfterFailure;

    /// What the user is told when a failure at `target` ends the call.
    fn failure_reason(&self, target: &Target<'_>, error: &str) -> String;

    /// What the user is told when every target was tried.
    fn exhausted(&self, last_class: Option<FailureClass>, attempts: &[Attempt]) -> String;
}

/// A successful call: the value, the step that gave it, and every attempt.
pub(super) struct Succeeded<T> {
    pub value: T,
    pub step: usize,
    pub attempts: Vec<Attempt>,
}

impl Router {
    /// Runs `call` down `steps` until one answers, within the call's deadline and `budget`.
    pub(super) async fn attempt<C: Call>(
        &self,
        steps: &[ChainStep],
        call: &mut C,
        budget: Option<Budget>,
    ) -> Result<Succeeded<C::Value>, CallFailed> {
        let mut attempts = Vec::new();
        let mut last_class = None;
        let mut spent = 0.0;
        let deadline = Instant::now() + self.settings.call_deadline;
        let out_of_time = |attempts: Vec<Attempt>| CallFailed {
            reason: format!(
                "no answer within the call's deadline of {} s",
                self.settings.call_deadline.as_secs()
            ),
            class: Some(FailureClass::DeadlinePassed),
            attempts,
        };
        for (index, step) in steps.iter().enumerate() {
            let Some(provider) = self.providers.get(&step.provider) else {
                return Err(CallFailed {
                    reason: format!(
                        "the chain names {:?}, which is not a provider",
                        step.provider
                    ),
                    class: Some(FailureClass::BadRequest),
                    attempts,
                });
            };
            let target = Target {
                name: &step.provider,
                provider,
                model_id: &step.model,
                model: self
                    .catalog
                    .get_or_unknown(provider.config.kind, &step.model),
            };
            if call.skip(&target) {
                continue;
            }
            let not_sent = |class: FailureClass, error: String| Attempt {
                class: Some(class),
                error: Some(error),
                ..attempt_at(&target, 0, None)
            };
            if let Some(why) = self.health(target.name).unavailable(SystemTime::now()) {
                attempts.push(not_sent(FailureClass::CoolingDown, why));
                last_class = Some(FailureClass::CoolingDown);
                continue;
            }
            let worst = call.worst_case(&target);
            let over = match (budget, self.provider_budget(target.name)) {
                (Some(budget), _) if spent + worst > budget.remaining_usd => Some(format!(
                    "its worst case (${worst:.4}) exceeds what is left of the budget (${:.4})",
                    (budget.remaining_usd - spent).max(0.0)
                )),
                (_, Some(left)) if worst > left => Some(format!(
                    "its worst case (${worst:.4}) exceeds what is left of {}'s own budget (${:.4})",
                    target.name,
                    left.max(0.0)
                )),
                _ => None,
            };
            if let Some(why) = over {
                attempts.push(not_sent(FailureClass::OverBudget, why));
                last_class = Some(FailureClass::OverBudget);
                continue;
            }
            let mut retries = 0;
            loop {
                if Instant::now() >= deadline {
                    return Err(out_of_time(attempts));
                }
                let mut timing = Timing {
                    started: Instant::now(),
                    first_token: None,
                    deadline,
                };
                call.starting(&target, &attempts);
                let outcome = call.send(self, &target, &mut timing).await;
                let mut attempt = attempt_at(
                    &target,
                    millis(timing.started.elapsed()),
                    timing.first_token.map(millis),
                );
                let (class, status, error, retry_after) = match outcome {
                    Outcome::Answered(value) => {
                        let (tokens_in, tokens_out) = C::tokens(&value);
                        attempt.tokens_in = tokens_in;
                        attempt.tokens_out = tokens_out;
                        attempt.cost_usd = target.model.cost(tokens_in, tokens_out);
                        spent += attempt.cost_usd;
                        attempt.status = Some(200);
                        match call.check(&value) {
                            Err(why) => (FailureClass::InvalidOutput, Some(200), why, None),
                            Ok(()) => {
                                self.update_health(target.name, |h| *h = Health::default());
                                attempts.push(attempt);
                                return Ok(Succeeded {
                                    value,
                                    step: index,
                                    attempts,
                                });
                            }
                        }
                    }
                    Outcome::Failed {
                        class,
                        status,
                        error,
                        retry_after,
                        tokens,
                    } => {
                        attempt.tokens_in = tokens.0;
                        attempt.tokens_out = tokens.1;
                        attempt.cost_usd = target.model.cost(tokens.0, tokens.1);
                        spent += attempt.cost_usd;
                        (class, status, error, retry_after)
                    }
                };
                let error = classify::sanitize(&error);
                attempt.class = Some(class);
                attempt.status = status;
                attempt.error = Some(error.clone());
                attempts.push(attempt);
                last_class = Some(class);
                tracing::info!(
                    gen_ai.provider.name = %target.name,
                    gen_ai.request.model = %target.model_id,
                    class = class.as_str(),
                    status,
                    "AI attempt failed"
                );
                if let Some(pause) = self.retry_pause(class, retries, retry_after) {
                    if Instant::now() + pause >= deadline {
                        return Err(out_of_time(attempts));
                    }
                    retries += 1;
                    tokio::time::sleep(pause).await;
                    continue;
                }
                self.mark(target.name, class, &error, retry_after);
                match call.after_failure(class, &target, &timing) {
                    AfterFailure::NextTarget => break,
                    AfterFailure::EndCall => {
                        return Err(CallFailed {
                            reason: call.failure_reason(&target, &error),
                            class: Some(class),
                            attempts,
                        });
                    }
                }
            }
        }
        Err(CallFailed {
            reason: call.exhausted(last_class, &attempts),
            class: last_class,
            attempts,
        })
    }
}

/// An attempt at `target`, nothing known yet of how it went.
fn attempt_at(target: &Target<'_>, latency_ms: u32, first_token_ms: Option<u32>) -> Attempt {
    Attempt {
        provider: target.name.to_owned(),
        provider_kind: target.provider.config.kind,
        model: target.model_id.to_owned(),
        class: None,
        status: None,
        error: None,
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: 0.0,
        latency_ms,
        first_token_ms,
    }
}
