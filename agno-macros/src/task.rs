//! `#[task]` and `#[agent_task]`: check the function and write the task type around it.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Expr, ExprPath, FnArg, GenericArgument, Lit, LitStr, Pat, PathArguments, ReturnType, Signature, Type};

use crate::args::{self, Spec, listed, parse_prefix, shown};
use crate::errors::Errors;
use crate::item::{self, FnItem, Macro, at, impl_trait};

/// `ttl` and `priority`, which both macros take.
#[derive(Default)]
struct Schedule {
    /// `ttl = 600` (seconds, > 0).
    ttl: Option<u64>,
    /// `priority = 5` (may be negative).
    priority: Option<i64>,
}

impl Schedule {
    /// Reads `ttl` or `priority`; returns the tokens after the number.
    fn value<'v>(&mut self, name: &str, value: &'v [TokenTree], errors: &mut Errors) -> &'v [TokenTree] {
        let negative = matches!(&value[0], TokenTree::Punct(p) if p.as_char() == '-');
        let digits = usize::from(negative);
        let literal = match value.get(digits) {
            Some(TokenTree::Literal(lit)) => Some(Lit::new(lit.clone())),
            _ => None,
        };
        let used = (digits + 1).min(value.len());
        let rest = &value[used..];
        let whole: TokenStream = value.iter().cloned().collect();
        // `ttl = 10 * 60`: an operator after the number means an expression, not a literal.
        let expression = matches!(rest.first(), Some(TokenTree::Punct(_)));
        let number = match &literal {
            Some(Lit::Int(int)) if !expression => Some(int),
            _ => None,
        };
        let quoted = matches!(&literal, Some(Lit::Str(_)));
        let spanned: TokenStream = if expression { whole } else { value[..used].iter().cloned().collect() };
        if name == "ttl" {
            match number.filter(|_| !negative).map(|n| n.base10_parse::<u64>()) {
                Some(Ok(secs)) if secs > 0 => self.ttl = Some(secs),
                _ => {
                    let tail = if quoted {
                        ", not a string: remove the quotes"
                    } else {
                        ", such as `ttl = 600` (an integer literal)"
                    };
                    let message = format!("`ttl` must be a whole number of seconds greater than 0{tail}");
                    errors.push(syn::Error::new_spanned(spanned, message));
                    return &[];
                }
            }
        } else {
            let parsed = number.map(|n| {
                let text = if negative { format!("-{}", n.base10_digits()) } else { n.base10_digits().to_owned() };
                text.parse::<i64>()
            });
            match parsed {
                Some(Ok(priority)) => self.priority = Some(priority),
                _ => {
                    let message = if quoted {
                        "`priority` must be a whole number, not a string: remove the quotes".to_owned()
                    } else if let Some(Ok(_)) = number.map(|n| n.base10_parse::<u128>()) {
                        format!("`priority` must fit in an `i64` ({} to {})", i64::MIN, i64::MAX)
                    } else {
                        "`priority` must be a whole number, such as `priority = 5` or `priority = -1` \
                         (an integer literal; higher runs first)"
                            .to_owned()
                    };
                    errors.push(syn::Error::new_spanned(spanned, message));
                    return &[];
                }
            }
        }
        rest
    }

    /// The `ttl` in seconds as the generated code writes it.
    fn ttl_tokens(&self, tasks: &TokenStream) -> TokenStream {
        match self.ttl {
            Some(secs) => proc_macro2::Literal::u64_unsuffixed(secs).into_token_stream(),
            None => quote!(#tasks::DEFAULT_TTL.as_secs()),
        }
    }

    /// The `priority` as the generated code writes it.
    fn priority_tokens(&self) -> TokenStream {
        let priority = self.priority.unwrap_or(0);
        let literal = proc_macro2::Literal::u64_unsuffixed(priority.unsigned_abs());
        if priority < 0 { quote!(-#literal) } else { literal.into_token_stream() }
    }
}

/// Reads a function path (`transform = truncate`, `model = my_model`), refusing closures and
/// strings with a message that says so; `expected` says what the value must be.
fn fn_path<'v>(expected: &str, value: &'v [TokenTree], errors: &mut Errors) -> Option<(ExprPath, &'v [TokenTree])> {
    let first = &value[0];
    let closure = match first {
        TokenTree::Punct(p) => p.as_char() == '|',
        TokenTree::Ident(i) => i == "move" || i == "async",
        _ => false,
    };
    if closure {
        let whole: TokenStream = value.iter().cloned().collect();
        errors.push(syn::Error::new_spanned(
            whole,
            format!("{expected}, not a closure: write the closure as a `fn` and give its name here"),
        ));
        return None;
    }
    if let Some(s) = string_literal(first) {
        let message = if s.parse::<syn::Path>().is_ok() {
            format!("{expected}, not a string: remove the quotes")
        } else {
            format!("{expected}, not a string")
        };
        errors.push(syn::Error::new(first.span(), message));
        return None;
    }
    match parse_prefix::<Expr>(value) {
        Ok((Expr::Path(path), rest)) if path.attrs.is_empty() => Some((path, rest)),
        Ok((other, _)) if matches!(other, Expr::Call(_)) => {
            errors.push(syn::Error::new_spanned(
                &other,
                format!("{expected}, not a call: name the function without `(...)`, the task calls it"),
            ));
            None
        }
        Ok((other, _)) => {
            errors.push(syn::Error::new_spanned(&other, expected));
            None
        }
        Err(_) => {
            errors.push(syn::Error::new(first.span(), expected));
            None
        }
    }
}

/// The arguments of `#[task(...)]`.
#[derive(Default)]
pub(crate) struct TaskArgs {
    schedule: Schedule,
    /// `transform = path`.
    transform: Option<ExprPath>,
    /// `output = Type`, and the `output` key for messages.
    output: Option<(Ident, Type)>,
    /// `crate = path`.
    krate: Option<syn::Path>,
}

impl Spec for TaskArgs {
    const KEYS: &'static [&'static str] = &["ttl", "priority", "transform", "output", "crate"];
    const EXAMPLE: &'static str = "ttl = 600";

    fn example(key: &str) -> &'static str {
        match key {
            "ttl" => "ttl = 600",
            "priority" => "priority = 5",
            "transform" => "transform = truncate",
            "output" => "output = usize",
            _ => "crate = agno_core",
        }
    }

    fn not_a_name(found: &str) -> String {
        if found.parse::<u64>().is_ok() {
            format!("write `ttl = {found}` (seconds a result is kept) or `priority = {found}`")
        } else {
            format!(
                "valid: {}",
                listed(&["ttl = 600", "priority = 5", "transform = path", "output = Type", "crate = path"])
            )
        }
    }

    fn unknown_hint(name: &str) -> Option<String> {
        match name {
            "key" => Some("a key is chosen for each call: `tasks.add(my_task.keyed(\"key\"), args)`".to_owned()),
            "model" | "instructions" | "system_prompt" => {
                Some(format!("`{name}` belongs to `#[agent_task]`, which runs the task with an agent"))
            }
            _ => None,
        }
    }

    fn krate(&mut self) -> &mut Option<syn::Path> {
        &mut self.krate
    }

    fn value<'v>(
        &mut self,
        key: &Ident,
        name: &'static str,
        value: &'v [TokenTree],
        errors: &mut Errors,
    ) -> &'v [TokenTree] {
        match name {
            "ttl" | "priority" => self.schedule.value(name, value, errors),
            "transform" => {
                let expected = "`transform` must be the path of a function that takes the task's output and \
                                returns the stored value, such as `transform = truncate`";
                match fn_path(expected, value, errors) {
                    Some((path, rest)) => {
                        self.transform = Some(path);
                        rest
                    }
                    None => &[],
                }
            }
            _ => match parse_prefix::<Type>(value) {
                Ok((ty, rest)) => {
                    self.output = Some((key.clone(), ty));
                    rest
                }
                Err(_) => {
                    errors.push(syn::Error::new(
                        value[0].span(),
                        format!("`output` must be a type, such as `output = usize`, found `{}`", shown(&value[0])),
                    ));
                    &[]
                }
            },
        }
    }

    fn finish(&mut self, errors: &mut Errors) {
        if let (Some((key, _)), None) = (&self.output, &self.transform) {
            errors.push(syn::Error::new(
                key.span(),
                "`output` only goes with `transform`: it is the type the transform returns; without a \
                 transform the output is the function's return type, so remove `output`",
            ));
        }
    }
}

/// The model of an agent task.
enum ModelArg {
    /// `model = "haiku"`: a short name or an id, for `models::claude_or_offline`.
    Name(LitStr),
    /// `model = path`: a function that returns the model.
    Function(ExprPath),
}

/// The arguments of `#[agent_task(...)]`.
#[derive(Default)]
pub(crate) struct AgentTaskArgs {
    schedule: Schedule,
    /// `instructions = "..."` or fasthooks' `system_prompt = "..."`, with the key as written.
    instructions: Option<(Ident, LitStr)>,
    /// `model = "haiku"` or `model = path`.
    model: Option<ModelArg>,
    /// `crate = path`.
    krate: Option<syn::Path>,
}

impl Spec for AgentTaskArgs {
    const KEYS: &'static [&'static str] = &["instructions", "system_prompt", "model", "ttl", "priority", "crate"];
    const EXAMPLE: &'static str = "instructions = \"You review code.\"";

    fn example(key: &str) -> &'static str {
        match key {
            "instructions" => "instructions = \"You review code.\"",
            "system_prompt" => "system_prompt = \"You review code.\"",
            "model" => "model = \"haiku\"",
            "ttl" => "ttl = 600",
            "priority" => "priority = 5",
            _ => "crate = agno_core",
        }
    }

    fn not_a_name(found: &str) -> String {
        if found.starts_with('"') {
            format!("write `instructions = {found}`")
        } else {
            format!(
                "valid: {}",
                listed(&[
                    "instructions = \"...\"",
                    "system_prompt = \"...\"",
                    "model = \"haiku\" | path",
                    "ttl = 600",
                    "priority = 5",
                    "crate = path"
                ])
            )
        }
    }

    fn unknown_hint(name: &str) -> Option<String> {
        match name {
            "allowed_tools" | "max_turns" | "max_budget_usd" | "cwd" => {
                Some("configure the model in a function and name it with `model = my_model`".to_owned())
            }
            "transform" | "output" => {
                Some("an agent task has no transform: shape the value in the function's body".to_owned())
            }
            _ => None,
        }
    }

    fn krate(&mut self) -> &mut Option<syn::Path> {
        &mut self.krate
    }

    fn value<'v>(
        &mut self,
        key: &Ident,
        name: &'static str,
        value: &'v [TokenTree],
        errors: &mut Errors,
    ) -> &'v [TokenTree] {
        match name {
            "ttl" | "priority" => self.schedule.value(name, value, errors),
            "model" => {
                if let Some(s) = string_literal(&value[0]) {
                    if s.value().trim().is_empty() {
                        errors.push(syn::Error::new(
                            s.span(),
                            "`model` needs a model: a short name (`\"haiku\"`, `\"sonnet\"`, `\"opus\"`) or an id \
                             such as `\"claude-haiku-4-5\"`",
                        ));
                    }
                    self.model = Some(ModelArg::Name(s));
                    return &value[1..];
                }
                let expected = "`model` must be a model name, such as `model = \"haiku\"`, or the path of a \
                                function that returns the model, such as `model = my_model`";
                match fn_path(expected, value, errors) {
                    Some((path, rest)) => {
                        self.model = Some(ModelArg::Function(path));
                        rest
                    }
                    None => &[],
                }
            }
            _ => match (&value[0], string_literal(&value[0])) {
                (_, Some(s)) => {
                    match &self.instructions {
                        Some((first, _)) if first != name => errors.push(syn::Error::new(
                            key.span(),
                            format!(
                                "`{name}` and `{first}` are the same (the agent's system prompt): keep one of them"
                            ),
                        )),
                        _ => self.instructions = Some((key.clone(), s)),
                    }
                    &value[1..]
                }
                (other, None) => {
                    errors.push(syn::Error::new(
                        other.span(),
                        format!(
                            "`{name}` must be a string literal, such as `{}`, found `{}`",
                            Self::example(name),
                            shown(other)
                        ),
                    ));
                    &[]
                }
            },
        }
    }
}

/// What the function returns, as the task sees it.
enum Returns<'f> {
    /// `()`.
    Unit,
    /// A value: the output.
    Value(&'f Type),
    /// `Result<T, E>`: `T` is the output, `Err(e)` fails the task. `err` is what type errors
    /// about `E` point at: `E`, or the whole type when `E` is not written (`io::Result<T>`).
    Result { ok: &'f Type, err: &'f Type },
}

/// The checked function, ready to generate from.
struct Checked<'f> {
    /// The task's arguments' types, in order (without the agent).
    args: Vec<&'f Type>,
    returns: Returns<'f>,
}

/// Expands `#[task(args)] item` or `#[agent_task(args)] item`. On any error the item comes back
/// unchanged, followed by every error found.
pub(crate) fn task(args: TokenStream, item: TokenStream, mac: Macro) -> TokenStream {
    let mut errors = Errors::default();
    let (task_args, agent_args) = if mac == Macro::AgentTask {
        (TaskArgs::default(), Some(args::parse::<AgentTaskArgs>(args, &mut errors)))
    } else {
        (args::parse::<TaskArgs>(args, &mut errors), None)
    };
    let func = match FnItem::parse(&item, mac) {
        Ok(func) => func,
        Err(err) => {
            errors.push(err);
            return item::with_errors(item, errors);
        }
    };
    let checked = check_signature(&func.sig, mac, &task_args, &mut errors);
    match errors.finish() {
        Ok(()) => generate(&func, &checked, &task_args, agent_args.as_ref()),
        Err(err) => {
            let mut tokens = item;
            tokens.extend(err.into_compile_error());
            tokens
        }
    }
}

/// Checks everything about the signature, recording every problem.
fn check_signature<'f>(sig: &'f Signature, mac: Macro, args: &TaskArgs, errors: &mut Errors) -> Checked<'f> {
    item::check_shape(sig, mac, errors);
    let mut inputs = sig.inputs.iter();
    if mac == Macro::AgentTask {
        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span,
                "an agent task must be an `async fn`: write `async fn`, and await the agent's runs \
                 (`agent.run(..).await`)",
            ));
        }
        match inputs.next() {
            None => errors.push(syn::Error::new(
                sig.paren_token.span.join(),
                "an agent task receives its agent first: add `agent: Agent` before the task's arguments",
            )),
            Some(FnArg::Receiver(receiver)) => errors.push(item::receiver_error(receiver, mac)),
            Some(FnArg::Typed(arg)) => check_agent_param(&arg.pat, &arg.ty, errors),
        }
    }
    let mut types = Vec::new();
    for input in inputs {
        let arg = match input {
            FnArg::Receiver(receiver) => {
                errors.push(item::receiver_error(receiver, mac));
                continue;
            }
            FnArg::Typed(arg) => arg,
        };
        check_param_name(&arg.pat, &arg.ty, errors);
        if let Some(error) = param_type_error(&arg.ty, mac) {
            errors.push(error);
            continue;
        }
        types.push(&*arg.ty);
    }

    let returns = match &sig.output {
        ReturnType::Default => Returns::Unit,
        ReturnType::Type(_, ty) => match result_ok(ty) {
            Some((ok, err)) => Returns::Result { ok, err: err.unwrap_or(ty) },
            None => Returns::Value(ty),
        },
    };
    let output = match &returns {
        Returns::Unit => None,
        Returns::Value(ty) | Returns::Result { ok: ty, .. } => Some(*ty),
    };
    if let Some(ty) = output {
        output_type_error(ty, errors);
    }
    if let (Some((_, ty)), true) = (&args.output, args.transform.is_some()) {
        output_type_error(ty, errors);
    }
    Checked { args: types, returns }
}

/// Checks the first parameter of an agent task: `agent: Agent`.
fn check_agent_param(pat: &Pat, ty: &Type, errors: &mut Errors) {
    match item::plain_name(pat, "agent task", "agent") {
        Ok(Some(_)) => {}
        Ok(None) => errors.push(syn::Error::new_spanned(
            pat,
            "the agent is a plain parameter: write `agent: Agent` (or `_agent: Agent` if the body does not use it)",
        )),
        Err(err) => errors.push(err),
    }
    let message = match ty {
        Type::Reference(r) if is_agent(&r.elem) => "take the agent by value: `agent: Agent` (each run of the task \
                                                    builds its own agent and hands it over)"
            .to_owned(),
        ty if is_agent(ty) => return,
        _ => format!(
            "the first parameter of an agent task is the agent it runs with: write `agent: Agent` before the \
             task's arguments (found `{}`)",
            pretty(ty)
        ),
    };
    let span = if matches!(ty, Type::Reference(_)) { quote!(#ty) } else { quote!(#pat: #ty) };
    errors.push(syn::Error::new_spanned(span, message));
}

/// Whether `ty` is written `Agent` (any path ending in `Agent`, without generics).
fn is_agent(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().is_some_and(|s| s.ident == "Agent" && s.arguments.is_none())
        }
        Type::Paren(p) => is_agent(&p.elem),
        Type::Group(g) => is_agent(&g.elem),
        _ => false,
    }
}

/// Task parameters are plain names: the macro hands the arguments over by position.
fn check_param_name(pat: &Pat, ty: &Type, errors: &mut Errors) {
    let message = match item::plain_name(pat, "task", "code") {
        Ok(Some(_)) => return,
        Err(err) => {
            errors.push(err);
            return;
        }
        Ok(None) if matches!(pat, Pat::Wild(_)) => "a task parameter needs a name, not `_`: every argument is \
                                                     passed and stored, so name it (start the name with `_` if \
                                                     the body does not use it)"
            .to_owned(),
        Ok(None) => format!(
            "task parameters are plain names, not patterns: take the whole value (`value: {}`) and destructure it \
             in the body",
            pretty(ty)
        ),
    };
    errors.push(syn::Error::new_spanned(pat, message));
}

/// Why `ty` cannot be the type of a task argument: a reference, `impl Trait`, or an agent.
fn param_type_error(ty: &Type, mac: Macro) -> Option<syn::Error> {
    if let Some(span) = impl_trait(ty) {
        return Some(syn::Error::new(
            span,
            "`impl Trait` makes the task generic, which it cannot be: write the concrete type, such as `String`",
        ));
    }
    if let Some((reference, owned, borrowed)) = borrowed(ty) {
        return Some(syn::Error::new_spanned(
            reference,
            format!(
                "task arguments must be owned, e.g. `{owned}` instead of `{borrowed}`: they are serialised and may \
                 run on another thread or process"
            ),
        ));
    }
    if is_agent(ty) {
        let message = if mac == Macro::AgentTask {
            "an agent task receives one agent, as its first parameter: remove this one"
        } else {
            "a task cannot take an `Agent` (it is not serialisable): use `#[agent_task]`, which builds an agent \
             for each run and passes it as the first parameter"
        };
        return Some(syn::Error::new_spanned(ty, message));
    }
    None
}

/// Refuses an output type that cannot be stored: `impl Trait`, references.
fn output_type_error(ty: &Type, errors: &mut Errors) {
    if let Some(span) = impl_trait(ty) {
        errors.push(syn::Error::new(
            span,
            "a task's output is stored under its type, so it must be concrete: write the type, such as `String`",
        ));
    } else if let Some((reference, owned, borrowed)) = borrowed(ty) {
        errors.push(syn::Error::new_spanned(
            reference,
            format!(
                "a task's output must be owned, e.g. `{owned}` instead of `{borrowed}`: it is serialised and read \
                 back by a later call"
            ),
        ));
    }
}

/// The first reference in `ty`: the reference type itself (to point at), an owned replacement
/// and the borrowed type as written.
fn borrowed(ty: &Type) -> Option<(&Type, String, String)> {
    match ty {
        Type::Reference(r) => {
            let owned = match &*r.elem {
                Type::Path(p) if p.path.is_ident("str") => "String".to_owned(),
                Type::Path(p) if p.path.is_ident("Path") => "PathBuf".to_owned(),
                Type::Slice(s) => format!("Vec<{}>", pretty(&s.elem)),
                other => pretty(other),
            };
            Some((ty, owned, pretty(ty)))
        }
        Type::Paren(p) => borrowed(&p.elem),
        Type::Group(g) => borrowed(&g.elem),
        Type::Array(a) => borrowed(&a.elem),
        Type::Slice(s) => borrowed(&s.elem),
        Type::Ptr(p) => borrowed(&p.elem),
        Type::Tuple(t) => t.elems.iter().find_map(borrowed),
        Type::Path(p) => {
            let qself = p.qself.as_ref().and_then(|q| borrowed(&q.ty));
            qself.or_else(|| {
                p.path.segments.iter().find_map(|segment| match &segment.arguments {
                    PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                        GenericArgument::Type(ty) => borrowed(ty),
                        _ => None,
                    }),
                    _ => None,
                })
            })
        }
        _ => None,
    }
}

/// A type as users write it (`Vec<&str>`, not `Vec < & str >`).
fn pretty(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [(" <", "<"), ("< ", "<"), (" >", ">"), ("& ", "&"), (" ::", "::"), (":: ", "::"), (" ,", ",")] {
        text = text.replace(from, to);
    }
    text
}

/// `T` (and `E` if written) if `ty` is written `...Result<T, ..>`.
fn result_ok(ty: &Type) -> Option<(&Type, Option<&Type>)> {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            if last.ident != "Result" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
            let mut types = args.args.iter().filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            });
            match args.args.first()? {
                GenericArgument::Type(_) => Some((types.next()?, types.next())),
                _ => None,
            }
        }
        Type::Paren(p) => result_ok(&p.elem),
        Type::Group(g) => result_ok(&g.elem),
        _ => None,
    }
}

/// Writes the task type: a unit struct named after the function, an inherent impl with
/// `DESCRIPTOR` and the function as `func`, the `Task` impl, and the registry entry.
fn generate(func: &FnItem, checked: &Checked<'_>, args: &TaskArgs, agent: Option<&AgentTaskArgs>) -> TokenStream {
    let krate = agent.map_or(&args.krate, |a| &a.krate).clone().unwrap_or_else(|| syn::parse_quote!(::agno));
    let private = quote!(#krate::__private);
    let tasks = quote!(#krate::__private);
    let schedule = agent.map_or(&args.schedule, |a| &a.schedule);
    let FnItem { vis, sig, body, .. } = func;
    let ident = &sig.ident;
    let name = ident.unraw().to_string();
    let (cfgs, docs, others) = func.split_attrs();
    let mut inner_sig = sig.clone();
    inner_sig.ident = Ident::new("func", ident.span());
    let macro_name = if agent.is_some() { "#[agent_task]" } else { "#[task]" };
    let func_doc = format!("The function written under `{macro_name}`, unchanged; call it directly.");

    let ttl = schedule.ttl_tokens(&tasks);
    let priority = schedule.priority_tokens();

    // `Args`, the pattern `run` binds them with, and the call's arguments. A tuple of several
    // arguments is located at the parameter list, so an argument that cannot be serialised is
    // reported there rather than on the attribute.
    let names: Vec<Ident> = (0..checked.args.len()).map(|i| format_ident!("__arg{i}")).collect();
    let (args_ty, args_pat) = match checked.args.as_slice() {
        [] => (quote!(()), quote!(())),
        [ty] => (quote_spanned!(at(ty)=> #ty), quote!(__arg0)),
        tys => {
            let mut tuple = Group::new(Delimiter::Parenthesis, quote!(#(#tys),*));
            tuple.set_span(Span::call_site().located_at(sig.paren_token.span.join()));
            (tuple.into_token_stream(), quote!((#(#names),*)))
        }
    };
    let agent_arg = agent.map(|_| quote!(__agent,));
    let call = quote!(Self::func(#agent_arg #(#names),*));
    let call = if sig.asyncness.is_some() { quote!(#call.await) } else { call };

    let raw_output = match &checked.returns {
        Returns::Unit => quote!(()),
        Returns::Value(ty) | Returns::Result { ok: ty, .. } => quote_spanned!(at(ty)=> #ty),
    };
    let outcome = match &checked.returns {
        Returns::Result { err, .. } => {
            // Located at `E` as a whole, so an `E` that is not `Display` is reported there.
            let failed = respan(quote!(#tasks::TaskError::failed(__error)), at(err));
            quote!(#call.map_err(|__error| #failed))
        }
        _ => quote!(::core::result::Result::Ok(#call)),
    };
    let output = match (&args.output, &args.transform) {
        (Some((_, ty)), Some(_)) => quote_spanned!(at(ty)=> #ty),
        _ => raw_output.clone(),
    };
    // The transform may return the output or `Result<output, E>`; a mismatch is reported on its
    // path.
    let transform = args.transform.as_ref().map(|path| {
        quote_spanned!(at(path)=> .map(move |__raw: #raw_output| {
            #tasks::IntoTransformed::<Self::Output>::into_transformed(#path(__raw))
        }))
    });

    // Async work is located at the function's name, so a future that is not `Send` is reported
    // there.
    let future = respan(quote!(#tasks::TaskRun::future), at(ident));
    let work = match agent {
        Some(agent_args) => {
            let instructions = agent_args.instructions.as_ref().map(|(_, s)| quote!(.instructions(#s)));
            let model = agent_args.model.as_ref().map(|model| match model {
                ModelArg::Name(s) => quote_spanned!(s.span()=> .model(#krate::models::claude_or_offline(#s))),
                ModelArg::Function(path) => quote_spanned!(at(path)=> .model(#path())),
            });
            let body = braced(
                quote! {
                    let __agent = #krate::Agent::builder()
                        .name(#name)
                        #instructions
                        #model
                        .build()
                        .map_err(#tasks::TaskError::failed)?;
                    #outcome
                },
                at(ident),
            );
            quote_spanned!(at(ident)=> #future(async move #body))
        }
        None if sig.asyncness.is_some() => {
            let body = braced(outcome, at(ident));
            quote_spanned!(at(ident)=> #future(async move #body))
        }
        None => quote!(#tasks::TaskRun::blocking(move || #outcome)),
    };

    quote! {
        #(#cfgs)*
        #(#docs)*
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::default::Default)]
        #[allow(non_camel_case_types)]
        #vis struct #ident;

        #(#cfgs)*
        impl #ident {
            /// This task's entry in the registry of hooks and tasks.
            #vis const DESCRIPTOR: #private::Descriptor = #private::Descriptor::resumable_task(
                #name,
                ::core::module_path!(),
                #ttl,
                #priority,
                #tasks::resume::<#ident>,
            );

            #[doc = #func_doc]
            #(#others)*
            #vis #inner_sig #body
        }

        #(#cfgs)*
        impl #tasks::Task for #ident {
            type Args = #args_ty;
            type Output = #output;

            fn name(&self) -> &str {
                #name
            }

            fn ttl(&self) -> ::core::time::Duration {
                ::core::time::Duration::from_secs(Self::DESCRIPTOR.ttl_secs)
            }

            fn priority(&self) -> i64 {
                Self::DESCRIPTOR.priority
            }

            fn run(&self, #args_pat: Self::Args) -> #tasks::TaskRun<Self::Output> {
                #work #transform
            }
        }

        #(#cfgs)*
        #private::inventory::submit! { #ident::DESCRIPTOR }
    }
}

/// `{ tokens }` with the braces at `span`.
fn braced(tokens: TokenStream, span: Span) -> TokenStream {
    let mut group = Group::new(Delimiter::Brace, tokens);
    group.set_span(span);
    group.into_token_stream()
}

/// `tokens` with every token (and group) at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            }
            token.set_span(span);
            token
        })
        .collect()
}

/// The string literal a token is, if it is one.
fn string_literal(token: &TokenTree) -> Option<syn::LitStr> {
    match token {
        TokenTree::Literal(lit) => match Lit::new(lit.clone()) {
            Lit::Str(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream, mac: Macro) -> String {
        task(args, item, mac).to_string()
    }

    #[test]
    fn writes_the_task_type() {
        let out = expand(
            quote!(ttl = 600, priority = -1),
            quote! {
                /// Docs.
                pub fn analyze_code(code: String, n: u32) -> Result<String, std::io::Error> { todo!() }
            },
            Macro::Task,
        );
        assert!(out.contains("pub struct analyze_code ;"), "{out}");
        assert!(out.contains("resumable_task (\"analyze_code\" , :: core :: module_path ! () , 600 , - 1 ,"), "{out}");
        assert!(out.contains("type Args = (String , u32) ;"), "{out}");
        assert!(out.contains("type Output = String ;"), "{out}");
        assert!(out.contains("fn run (& self , (__arg0 , __arg1) : Self :: Args)"), "{out}");
        assert!(out.contains("TaskRun :: blocking (move || Self :: func (__arg0 , __arg1) . map_err"), "{out}");
        assert!(out.contains("inventory :: submit !"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn defaults_and_async() {
        let out = expand(
            TokenStream::new(),
            quote!(
                async fn ping() {}
            ),
            Macro::Task,
        );
        assert!(out.contains("DEFAULT_TTL . as_secs () , 0 ,"), "{out}");
        assert!(out.contains("type Args = () ;"), "{out}");
        assert!(out.contains("type Output = () ;"), "{out}");
        assert!(
            out.contains(
                "TaskRun :: future (async move { :: core :: result :: Result :: Ok (Self :: func () . await) })"
            ),
            "{out}"
        );
    }

    #[test]
    fn transform_and_output() {
        let out = expand(
            quote!(transform = count, output = usize, crate = agno_core),
            quote!(
                fn words(text: String) -> String {
                    text
                }
            ),
            Macro::Task,
        );
        assert!(out.contains("type Args = String ;"), "{out}");
        assert!(out.contains("type Output = usize ;"), "{out}");
        assert!(out.contains(". map (move | __raw : String |"), "{out}");
        assert!(
            out.contains(
                "agno_core :: __private :: IntoTransformed :: < Self :: Output > :: into_transformed (count (__raw))"
            ),
            "{out}"
        );
        assert!(out.contains("agno_core :: __private :: Task for words"), "{out}");
    }

    #[test]
    fn agent_tasks_build_their_agent() {
        let out = expand(
            quote!(instructions = "Review.", model = my_model),
            quote!(
                async fn review(agent: Agent, code: String) -> String {
                    todo!()
                }
            ),
            Macro::AgentTask,
        );
        assert!(out.contains("type Args = String ;"), "{out}");
        assert!(
            out.contains(". name (\"review\") . instructions (\"Review.\") . model (my_model ()) . build ()"),
            "{out}"
        );
        assert!(out.contains("Self :: func (__agent , __arg0) . await"), "{out}");
    }

    #[test]
    fn fasthooks_arguments() {
        let out = expand(
            quote!(model = "haiku", system_prompt = "You review code."),
            quote!(
                async fn review(agent: Agent) {}
            ),
            Macro::AgentTask,
        );
        assert!(
            out.contains(
                ". instructions (\"You review code.\") . model (:: agno :: models :: claude_or_offline (\"haiku\"))"
            ),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");

        let mut errors = Errors::default();
        let parsed = args::parse::<AgentTaskArgs>(
            quote!(system_prompt = "A.", instructions = "B.", model = "", model = "claude-x"),
            &mut errors,
        );
        let messages: Vec<String> = errors.finish().unwrap_err().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("`instructions` and `system_prompt` are the same"), "{messages:?}");
        assert!(messages[1].contains("`model` needs a model"), "{messages:?}");
        assert_eq!(messages[2], "`model` given twice");
        assert_eq!(parsed.instructions.map(|(_, s)| s.value()).as_deref(), Some("A."));
    }

    #[test]
    fn errors_keep_the_function_as_written() {
        let item = quote!(
            fn f(code: &str, _: u32) -> impl Sized {}
        );
        let out = expand(quote!(ttl = 0, output = u8, colour = 1), item.clone(), Macro::Task);
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert_eq!(out.matches("compile_error").count(), 6, "{out}");
        assert!(!out.contains("struct"), "{out}");
    }

    #[test]
    fn argument_values() {
        let mut errors = Errors::default();
        let parsed = args::parse::<TaskArgs>(
            quote!(ttl = 600, priority = -5, transform = a::b::<u8>, output = HashMap<String, u32>),
            &mut errors,
        );
        assert!(errors.finish().is_ok());
        assert_eq!(parsed.schedule.ttl, Some(600));
        assert_eq!(parsed.schedule.priority, Some(-5));
        assert_eq!(parsed.output.unwrap().1.to_token_stream().to_string(), "HashMap < String , u32 >");
        assert_eq!(parsed.transform.unwrap().to_token_stream().to_string(), "a :: b :: < u8 >");

        let mut errors = Errors::default();
        args::parse::<TaskArgs>(
            quote!(ttl = -1, ttl = "5", priority = 1.5, transform = |r| r, output = 5, krate = x),
            &mut errors,
        );
        assert_eq!(errors.finish().unwrap_err().into_iter().count(), 7);
    }

    #[test]
    fn types_as_written() {
        let ty: Type = syn::parse_quote!(&'static [Vec<u8>]);
        let (_, owned, borrowed) = borrowed(&ty).unwrap();
        assert_eq!(owned, "Vec<Vec<u8>>");
        assert_eq!(borrowed, "&'static [Vec<u8>]");
        assert!(result_ok(&syn::parse_quote!(io::Result<u8>)).is_some_and(|(_, err)| err.is_none()));
        assert!(result_ok(&syn::parse_quote!(Result<u8, E>)).is_some_and(|(_, err)| err.is_some()));
        assert!(result_ok(&syn::parse_quote!(Option<u8>)).is_none());
        assert!(is_agent(&syn::parse_quote!(agno::Agent)));
    }
}
