//! Templates in step inputs: `${params.NAME}` and `${steps.ID.outputs.KEY}`.
//!
//! Substitution is data only. A string that is exactly one template becomes
//! the referenced JSON value, whatever its type. A template inside a longer
//! string is replaced by the value's text: strings as they are, other values
//! as compact JSON. Substituted text is never scanned again, and nothing here
//! goes near a shell. `$${` stands for a literal `${`. Object keys are never
//! substituted.
//!
//! `KEY` may be a dotted path into nested outputs (`${steps.a.outputs.x.y}`);
//! a segment made of digits also indexes into an array.
//!
//! NOTE: because `$${` is the escape, a literal `$` directly before a
//! template cannot be written.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use serde_json::{Map, Value};

/// Maximum size in bytes of one step's rendered inputs, measured as compact
/// JSON. Inputs travel to the worker inside a step request whose control
/// frame is capped at 1 MiB, together with the sandbox policy; half of that
/// leaves ample room.
pub const MAX_RENDERED_BYTES: usize = 512 * 1024;

/// Reference made by one template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum TemplateRef {
    /// `${params.NAME}`.
    Param { name: String },
    /// `${steps.STEP.outputs.KEY}`; `key` is the dotted path as written.
    StepOutput { step: String, key: String },
}

impl fmt::Display for TemplateRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateRef::Param { name } => write!(formatter, "${{params.{name}}}"),
            TemplateRef::StepOutput { step, key } => {
                write!(formatter, "${{steps.{step}.outputs.{key}}}")
            }
        }
    }
}

/// Values that templates refer to while rendering one step.
#[derive(Debug, Clone, Copy)]
pub struct TemplateContext<'a> {
    /// Resolved workflow parameters.
    pub params: &'a Map<String, Value>,
    /// Outputs object of each finished step, by step id.
    pub outputs: &'a BTreeMap<String, Value>,
}

/// Error for a template that cannot be parsed or rendered. `path` names the
/// input, such as `inputs.text` or `inputs.args[2]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("invalid template in `{path}`: {reason}")]
    Parse { path: String, reason: String },

    /// A parameter has no value (optional, no default, not passed).
    #[error("`{path}` uses parameter `{name}`, which has no value; pass a value for it or give it a default")]
    MissingParameter { path: String, name: String },

    /// A step has no recorded outputs.
    #[error("`{path}` uses the outputs of step `{step}`, which has none; check that the step ran and printed a JSON object")]
    MissingStep { path: String, step: String },

    /// A step's outputs lack the key.
    #[error("`{path}` uses output `{key}` of step `{step}`, which the step did not produce")]
    MissingOutput {
        path: String,
        step: String,
        key: String,
    },

    /// The rendered inputs exceed [`MAX_RENDERED_BYTES`].
    #[error("rendered inputs exceed the limit of {limit} bytes; pass large data as files in the workspace")]
    TooLarge { limit: usize },
}

/// Piece of a parsed string: literal text (escapes already undone) or a
/// template reference.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Text(String),
    Template(TemplateRef),
}

/// Splits `text` into literal pieces and templates. `Err` holds the reason
/// the text is malformed.
pub(crate) fn parse_string(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;

    while let Some(position) = rest.find('$') {
        literal.push_str(&rest[..position]);
        let from_dollar = &rest[position..];

        if let Some(after) = from_dollar.strip_prefix("$${") {
            literal.push_str("${");
            rest = after;
        } else if let Some(after) = from_dollar.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err("`${` has no closing `}`; close the template, or write `$${` for a literal `${`".to_string());
            };
            let reference = parse_reference(&after[..end])?;
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Template(reference));
            rest = &after[end + 1..];
        } else {
            literal.push('$');
            rest = &from_dollar[1..];
        }
    }

    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// Parses the text between `${` and `}`.
fn parse_reference(body: &str) -> Result<TemplateRef, String> {
    let usage =
        "use `${params.NAME}` or `${steps.ID.outputs.KEY}`, or write `$${` for a literal `${`";
    let segments: Vec<&str> = body.split('.').collect();
    let well_formed = segments.iter().all(|segment| {
        !segment.is_empty()
            && segment.chars().all(|character| {
                character.is_ascii_alphanumeric() || character == '_' || character == '-'
            })
    });
    if !well_formed {
        return Err(format!(
            "`${{{body}}}` is not a template: names are made of letters, digits, `_` and `-`, separated by dots; {usage}"
        ));
    }

    match segments.as_slice() {
        ["params", name] => Ok(TemplateRef::Param {
            name: name.to_string(),
        }),
        ["steps", step, "outputs", key @ ..] if !key.is_empty() => Ok(TemplateRef::StepOutput {
            step: step.to_string(),
            key: key.join("."),
        }),
        _ => Err(format!("`${{{body}}}` is not a template: {usage}")),
    }
}

/// Lists the well-formed template references in `value`, searching strings
/// inside arrays and objects. Malformed templates are skipped;
/// [`crate::workflow::validate`] reports them.
pub fn template_references(value: &Value) -> Vec<TemplateRef> {
    let mut references = Vec::new();
    for_each_string(value, String::new(), &mut |_, text| {
        if let Ok(pieces) = parse_string(text) {
            references.extend(pieces.into_iter().filter_map(|piece| match piece {
                Piece::Template(reference) => Some(reference),
                Piece::Text(_) => None,
            }));
        }
    });
    references
}

/// Calls `visit` with the path suffix (`[2]`, `.key`) and text of every
/// string in `value`. Object keys are not visited.
pub(crate) fn for_each_string(value: &Value, path: String, visit: &mut dyn FnMut(&str, &str)) {
    match value {
        Value::String(text) => visit(&path, text),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                for_each_string(item, format!("{path}[{index}]"), visit);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                for_each_string(item, format!("{path}.{key}"), visit);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Renders step inputs: substitutes every template and undoes `$${`
/// escapes, recursing into arrays and objects.
pub fn render_inputs(
    inputs: &Map<String, Value>,
    context: &TemplateContext,
) -> Result<Map<String, Value>, TemplateError> {
    let mut renderer = Renderer {
        context,
        budget: MAX_RENDERED_BYTES,
    };
    let mut rendered = Map::new();
    for (name, value) in inputs {
        renderer.spend(name.len())?;
        let value = renderer.render(value, &format!("inputs.{name}"))?;
        rendered.insert(name.clone(), value);
    }

    // The budget counts content bytes only; the exact size adds quotes,
    // escapes and punctuation.
    if json_size(&rendered) > MAX_RENDERED_BYTES {
        return Err(TemplateError::TooLarge {
            limit: MAX_RENDERED_BYTES,
        });
    }
    Ok(rendered)
}

/// Returns `value` with `$${` escapes undone when it contains no template,
/// or `None` when it contains a template or a malformed one.
pub(crate) fn render_literal(value: &Value) -> Option<Value> {
    let params = Map::new();
    let outputs = BTreeMap::new();
    let context = TemplateContext {
        params: &params,
        outputs: &outputs,
    };
    if !template_references(value).is_empty() {
        return None;
    }
    let mut renderer = Renderer {
        context: &context,
        budget: MAX_RENDERED_BYTES,
    };
    renderer.render(value, "").ok()
}

/// Rendering state: the context and the bytes still allowed. The budget is a
/// lower bound on the output size, so a hostile input (one large output
/// referenced many times) stops before it is built.
struct Renderer<'a> {
    context: &'a TemplateContext<'a>,
    budget: usize,
}

impl<'a> Renderer<'a> {
    fn spend(&mut self, bytes: usize) -> Result<(), TemplateError> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(TemplateError::TooLarge {
                limit: MAX_RENDERED_BYTES,
            }),
        }
    }

    fn render(&mut self, value: &Value, path: &str) -> Result<Value, TemplateError> {
        match value {
            Value::String(text) => self.render_string(text, path),
            Value::Array(items) => {
                let mut rendered = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    rendered.push(self.render(item, &format!("{path}[{index}]"))?);
                }
                Ok(Value::Array(rendered))
            }
            Value::Object(fields) => {
                let mut rendered = Map::new();
                for (key, item) in fields {
                    self.spend(key.len())?;
                    rendered.insert(key.clone(), self.render(item, &format!("{path}.{key}"))?);
                }
                Ok(Value::Object(rendered))
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {
                self.spend(json_size(value))?;
                Ok(value.clone())
            }
        }
    }

    fn render_string(&mut self, text: &str, path: &str) -> Result<Value, TemplateError> {
        let pieces = parse_string(text).map_err(|reason| TemplateError::Parse {
            path: path.to_string(),
            reason,
        })?;

        // A string that is exactly one template keeps the value's JSON type.
        if let [Piece::Template(reference)] = pieces.as_slice() {
            let value = self.lookup(reference, path)?;
            self.spend(json_size(value))?;
            return Ok(value.clone());
        }

        let mut rendered = String::new();
        for piece in &pieces {
            match piece {
                Piece::Text(literal) => {
                    self.spend(literal.len())?;
                    rendered.push_str(literal);
                }
                Piece::Template(reference) => {
                    let value = self.lookup(reference, path)?;
                    match value {
                        Value::String(substituted) => {
                            self.spend(substituted.len())?;
                            rendered.push_str(substituted);
                        }
                        other => {
                            self.spend(json_size(other))?;
                            rendered.push_str(&other.to_string());
                        }
                    }
                }
            }
        }
        Ok(Value::String(rendered))
    }

    fn lookup(&self, reference: &TemplateRef, path: &str) -> Result<&'a Value, TemplateError> {
        let context = self.context;
        match reference {
            TemplateRef::Param { name } => {
                context
                    .params
                    .get(name)
                    .ok_or_else(|| TemplateError::MissingParameter {
                        path: path.to_string(),
                        name: name.clone(),
                    })
            }
            TemplateRef::StepOutput { step, key } => {
                let outputs =
                    context
                        .outputs
                        .get(step)
                        .ok_or_else(|| TemplateError::MissingStep {
                            path: path.to_string(),
                            step: step.clone(),
                        })?;
                let found = key
                    .split('.')
                    .try_fold(outputs, |current, segment| match current {
                        Value::Object(fields) => fields.get(segment),
                        Value::Array(items) => segment
                            .parse::<usize>()
                            .ok()
                            .and_then(|index| items.get(index)),
                        _ => None,
                    });
                found.ok_or_else(|| TemplateError::MissingOutput {
                    path: path.to_string(),
                    step: step.clone(),
                    key: key.clone(),
                })
            }
        }
    }
}

/// Returns the size of `value` as compact JSON, without building the text.
pub(crate) fn json_size<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    let mut counter = Counter(0);
    // Serializing JSON values into a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params() -> Map<String, Value> {
        let Value::Object(params) = json!({
            "who": "world",
            "count": 3,
            "ratio": 0.5,
            "flag": true,
            "nothing": null,
            "list": [1, "two"],
            "sneaky": "${params.who}",
        }) else {
            unreachable!()
        };
        params
    }

    fn outputs() -> BTreeMap<String, Value> {
        BTreeMap::from([
            (
                "a".to_string(),
                json!({"message": "hi", "x": {"y": {"z": 7}}, "items": ["p", "q"], "n": 42}),
            ),
            ("empty".to_string(), json!({})),
        ])
    }

    fn render_one(value: Value) -> Result<Value, TemplateError> {
        let params = params();
        let outputs = outputs();
        let context = TemplateContext {
            params: &params,
            outputs: &outputs,
        };
        let mut inputs = Map::new();
        inputs.insert("v".to_string(), value);
        render_inputs(&inputs, &context)
            .map(|mut rendered| rendered.remove("v").unwrap_or_default())
    }

    #[test]
    fn render_cases() {
        let cases: Vec<(Value, Value)> = vec![
            (json!("plain"), json!("plain")),
            (json!("${params.who}"), json!("world")),
            (json!("${params.count}"), json!(3)),
            (json!("${params.flag}"), json!(true)),
            (json!("${params.nothing}"), json!(null)),
            (json!("${params.list}"), json!([1, "two"])),
            (json!("hello ${params.who}!"), json!("hello world!")),
            (json!("n=${params.count}"), json!("n=3")),
            (json!("r=${params.ratio}"), json!("r=0.5")),
            (json!("${params.count}${params.count}"), json!("33")),
            (
                json!("f=${params.flag},z=${params.nothing}"),
                json!("f=true,z=null"),
            ),
            (json!("l=${params.list}"), json!("l=[1,\"two\"]")),
            (json!("${steps.a.outputs.message}"), json!("hi")),
            (json!("${steps.a.outputs.x.y.z}"), json!(7)),
            (json!("${steps.a.outputs.x}"), json!({"y": {"z": 7}})),
            (json!("${steps.a.outputs.items.1}"), json!("q")),
            (
                json!("got ${steps.a.outputs.n} items"),
                json!("got 42 items"),
            ),
            (json!("$${params.who}"), json!("${params.who}")),
            (
                json!("cost $5 and $${x} and ${params.who}"),
                json!("cost $5 and ${x} and world"),
            ),
            (json!("$$"), json!("$$")),
            (json!("trailing $"), json!("trailing $")),
            (json!("${params.sneaky}"), json!("${params.who}")),
            (json!("x ${params.sneaky}"), json!("x ${params.who}")),
            (
                json!(["${params.count}", {"k": "${params.who}"}]),
                json!([3, {"k": "world"}]),
            ),
            (json!({"${params.who}": 1}), json!({"${params.who}": 1})),
            (json!(12), json!(12)),
        ];
        for (input, expected) in cases {
            let rendered = render_one(input.clone());
            assert_eq!(rendered, Ok(expected), "input {input}");
        }
    }

    #[test]
    fn render_errors() {
        let cases: Vec<(Value, TemplateError)> = vec![
            (
                json!("${params.missing}"),
                TemplateError::MissingParameter {
                    path: "inputs.v".to_string(),
                    name: "missing".to_string(),
                },
            ),
            (
                json!(["ok", "${steps.zz.outputs.k}"]),
                TemplateError::MissingStep {
                    path: "inputs.v[1]".to_string(),
                    step: "zz".to_string(),
                },
            ),
            (
                json!({"deep": "x ${steps.a.outputs.x.nope}"}),
                TemplateError::MissingOutput {
                    path: "inputs.v.deep".to_string(),
                    step: "a".to_string(),
                    key: "x.nope".to_string(),
                },
            ),
            (
                json!("${steps.a.outputs.message.more}"),
                TemplateError::MissingOutput {
                    path: "inputs.v".to_string(),
                    step: "a".to_string(),
                    key: "message.more".to_string(),
                },
            ),
            (
                json!("${steps.a.outputs.items.9}"),
                TemplateError::MissingOutput {
                    path: "inputs.v".to_string(),
                    step: "a".to_string(),
                    key: "items.9".to_string(),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(render_one(input.clone()), Err(expected), "input {input}");
        }
    }

    #[test]
    fn missing_output_message_names_step_and_key() {
        let error = render_one(json!("${steps.empty.outputs.url}")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`inputs.v` uses output `url` of step `empty`, which the step did not produce"
        );
    }

    #[test]
    fn parse_error_cases() {
        let cases = [
            "${params.who",
            "${}",
            "${params}",
            "${params.a.b}",
            "${params.}",
            "${env.HOME}",
            "${steps.a.outputs}",
            "${steps.a.result.x}",
            "${params.a b}",
            "${ params.a }",
            "${params.${params.who}}",
        ];
        for text in cases {
            let error = render_one(json!(text)).unwrap_err();
            assert!(
                matches!(error, TemplateError::Parse { .. }),
                "text {text}: {error}"
            );
        }
    }

    #[test]
    fn unterminated_message_mentions_escape() {
        let error = render_one(json!("${params.who")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid template in `inputs.v`: `${` has no closing `}`; close the template, or write `$${` for a literal `${`"
        );
    }

    #[test]
    fn literal_rendered_without_escapes() {
        assert_eq!(
            render_literal(&json!(["$${a}", 1])),
            Some(json!(["${a}", 1]))
        );
    }

    #[test]
    fn literal_with_template_is_none() {
        assert_eq!(render_literal(&json!({"k": "x ${params.a}"})), None);
    }

    #[test]
    fn literal_with_malformed_template_is_none() {
        assert_eq!(render_literal(&json!("${oops")), None);
    }

    #[test]
    fn references_listed() {
        let value =
            json!({"a": ["${params.x} ${steps.s.outputs.k.j}", "${bad"], "b": "$${params.no}"});
        assert_eq!(
            template_references(&value),
            vec![
                TemplateRef::Param {
                    name: "x".to_string()
                },
                TemplateRef::StepOutput {
                    step: "s".to_string(),
                    key: "k.j".to_string(),
                },
            ]
        );
    }

    #[test]
    fn reference_displays_as_template() {
        let reference = TemplateRef::StepOutput {
            step: "s".to_string(),
            key: "k.j".to_string(),
        };
        assert_eq!(reference.to_string(), "${steps.s.outputs.k.j}");
    }

    #[test]
    fn repeated_large_output_rejected() {
        let params = params();
        let outputs = BTreeMap::from([("big".to_string(), json!({"blob": "x".repeat(100_000)}))]);
        let context = TemplateContext {
            params: &params,
            outputs: &outputs,
        };
        let copies = vec![json!("${steps.big.outputs.blob}"); 1000];
        let mut inputs = Map::new();
        inputs.insert("many".to_string(), Value::Array(copies));
        assert_eq!(
            render_inputs(&inputs, &context),
            Err(TemplateError::TooLarge {
                limit: MAX_RENDERED_BYTES
            })
        );
    }

    #[test]
    fn escaping_overhead_counts_toward_limit() {
        // Each quote becomes two bytes in JSON, so the content fits the
        // budget but the exact size does not.
        let params = params();
        let outputs = outputs();
        let context = TemplateContext {
            params: &params,
            outputs: &outputs,
        };
        let mut inputs = Map::new();
        inputs.insert(
            "q".to_string(),
            json!("\"".repeat(MAX_RENDERED_BYTES - 100)),
        );
        assert!(matches!(
            render_inputs(&inputs, &context),
            Err(TemplateError::TooLarge { .. })
        ));
    }
}
