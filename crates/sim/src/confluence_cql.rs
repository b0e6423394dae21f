//! A parser for the subset of CQL (Confluence Query Language) that real callers use:
//! `field OP value` clauses joined with `AND`, `OR`, `NOT` and parentheses, then an optional
//! `ORDER BY field [ASC|DESC], ...`. Values are quoted strings, bare words, numbers, lists
//! `(a, b)` for `IN` / `NOT IN`, and the functions `currentUser()`, `now()`, `startOfDay()`,
//! `endOfDay()`, `startOfWeek()`, `startOfMonth()` and `startOfYear()` (with an optional offset
//! such as `"-1d"`). [`crate::confluence_cql_eval`] evaluates the result.
//!
//! A query that does not parse is a [`CqlError::Parse`] (Confluence's 400 "Could not parse cql");
//! a field or operator outside the subset is [`CqlError::Unsupported`], also a 400, so that the
//! simulator never answers a query it does not understand.

/// A comparison operator.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Op {
    Eq,
    Ne,
    Contains,
    NotContains,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
}

/// A clause value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Value {
    Text(String),
    /// A function call: name (lower-case) and its string arguments.
    Func(String, Vec<String>),
    List(Vec<Value>),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Expr {
    Clause { field: String, op: Op, value: Value },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A parsed query: the filter and the `ORDER BY` keys (field, descending).
#[derive(Debug)]
pub(crate) struct Query {
    pub(crate) filter: Expr,
    pub(crate) order: Vec<(String, bool)>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CqlError {
    Parse,
    Unsupported(String),
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(text: &str) -> Result<Vec<Tok>, CqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '"' | '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(CqlError::Parse),
                        Some('\\') => {
                            s.push(*chars.get(i + 1).ok_or(CqlError::Parse)?);
                            i += 2;
                        }
                        Some(q) if *q == c => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            s.push(*other);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Quoted(s));
            }
            '=' | '~' | '!' | '<' | '>' => {
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let op = match two.as_str() {
                    "!=" => "!=",
                    "!~" => "!~",
                    ">=" => ">=",
                    "<=" => "<=",
                    _ => match c {
                        '=' => "=",
                        '~' => "~",
                        '<' => "<",
                        '>' => ">",
                        _ => return Err(CqlError::Parse),
                    },
                };
                i += op.len();
                out.push(Tok::Op(op));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"()=~!<>,\"'".contains(chars[i])
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn keyword(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, CqlError> {
        let mut left = self.and()?;
        while keyword(self.peek(), "or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, CqlError> {
        let mut left = self.not()?;
        while keyword(self.peek(), "and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, CqlError> {
        if keyword(self.peek(), "not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let inner = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return Err(CqlError::Parse);
            }
            return Ok(inner);
        }
        self.clause()
    }

    fn clause(&mut self) -> Result<Expr, CqlError> {
        let field = match self.next() {
            Some(Tok::Word(w)) => w,
            _ => return Err(CqlError::Parse),
        };
        let op = match self.next() {
            Some(Tok::Op(o)) => match o {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "~" => Op::Contains,
                "!~" => Op::NotContains,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "<" => Op::Lt,
                _ => Op::Le,
            },
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                if !keyword(self.peek(), "in") {
                    return Err(CqlError::Parse);
                }
                self.pos += 1;
                Op::NotIn
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                return Err(CqlError::Unsupported(
                    "arkbridge sim does not support IS EMPTY / IS NOT EMPTY in CQL".into(),
                ));
            }
            _ => return Err(CqlError::Parse),
        };
        let value = if matches!(op, Op::In | Op::NotIn) {
            if self.next() != Some(Tok::LParen) {
                return Err(CqlError::Parse);
            }
            let mut items = vec![self.value()?];
            loop {
                match self.next() {
                    Some(Tok::Comma) => items.push(self.value()?),
                    Some(Tok::RParen) => break,
                    _ => return Err(CqlError::Parse),
                }
            }
            Value::List(items)
        } else {
            self.value()?
        };
        Ok(Expr::Clause { field, op, value })
    }

    fn value(&mut self) -> Result<Value, CqlError> {
        match self.next() {
            Some(Tok::Quoted(s)) => Ok(Value::Text(s)),
            Some(Tok::Word(w)) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    let mut args = Vec::new();
                    loop {
                        match self.next() {
                            Some(Tok::RParen) => break,
                            Some(Tok::Quoted(a) | Tok::Word(a)) => {
                                args.push(a);
                                match self.next() {
                                    Some(Tok::Comma) => {}
                                    Some(Tok::RParen) => break,
                                    _ => return Err(CqlError::Parse),
                                }
                            }
                            _ => return Err(CqlError::Parse),
                        }
                    }
                    Ok(Value::Func(w.to_ascii_lowercase(), args))
                } else if ["and", "or", "not", "order"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    Err(CqlError::Parse)
                } else {
                    Ok(Value::Text(w))
                }
            }
            _ => Err(CqlError::Parse),
        }
    }

    fn order(&mut self) -> Result<Vec<(String, bool)>, CqlError> {
        let mut keys = Vec::new();
        if !keyword(self.peek(), "order") {
            return Ok(keys);
        }
        self.pos += 1;
        if !keyword(self.next().as_ref(), "by") {
            return Err(CqlError::Parse);
        }
        loop {
            let field = match self.next() {
                Some(Tok::Word(w)) => w,
                _ => return Err(CqlError::Parse),
            };
            let mut desc = false;
            if keyword(self.peek(), "desc") {
                desc = true;
                self.pos += 1;
            } else if keyword(self.peek(), "asc") {
                self.pos += 1;
            }
            keys.push((field, desc));
            if self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
            } else {
                return Ok(keys);
            }
        }
    }
}

/// Parses a CQL query.
pub(crate) fn parse(text: &str) -> Result<Query, CqlError> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return Err(CqlError::Parse);
    }
    let mut p = Parser { toks, pos: 0 };
    let filter = if keyword(p.peek(), "order") {
        return Err(CqlError::Unsupported(
            "arkbridge sim needs at least one CQL clause before ORDER BY".into(),
        ));
    } else {
        p.or()?
    };
    let order = p.order()?;
    if p.pos < p.toks.len() {
        return Err(CqlError::Parse);
    }
    Ok(Query { filter, order })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(field: &str, op: Op, value: &str) -> Expr {
        Expr::Clause {
            field: field.into(),
            op,
            value: Value::Text(value.into()),
        }
    }

    #[test]
    fn precedence_and_parentheses() {
        let q = parse("type = page AND (space = OPS OR label = \"runbook\") order by title desc")
            .unwrap();
        let expected = Expr::And(
            Box::new(clause("type", Op::Eq, "page")),
            Box::new(Expr::Or(
                Box::new(clause("space", Op::Eq, "OPS")),
                Box::new(clause("label", Op::Eq, "runbook")),
            )),
        );
        assert_eq!(q.filter, expected);
        assert_eq!(q.order, vec![("title".to_string(), true)]);
    }

    #[test]
    fn lists_functions_and_not() {
        let q = parse(
            "NOT id in (1, '2') and lastmodified >= now(\"-1d\") and creator != currentUser()",
        )
        .unwrap();
        let Expr::And(left, right) = q.filter else {
            panic!()
        };
        assert!(
            matches!(*right, Expr::Clause { op: Op::Ne, value: Value::Func(ref f, _), .. } if f == "currentuser")
        );
        let Expr::And(not_in, date) = *left else {
            panic!()
        };
        assert!(matches!(*not_in, Expr::Not(_)));
        assert!(
            matches!(*date, Expr::Clause { op: Op::Ge, value: Value::Func(ref f, ref a), .. } if f == "now" && a == &["-1d"])
        );
    }

    #[test]
    fn broken_queries_do_not_parse() {
        for bad in [
            "",
            "type =",
            "type = page AND",
            "(type = page",
            "title ~ \"open",
            "type page",
            "a = b c",
        ] {
            assert_eq!(parse(bad).err(), Some(CqlError::Parse), "{bad}");
        }
        assert!(matches!(
            parse("label IS EMPTY"),
            Err(CqlError::Unsupported(_))
        ));
    }
}
