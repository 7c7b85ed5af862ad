//! Enums whose variants each have one name, written once: `as_str`, `Display` and the JSON
//! string all come from it, so a report, a log line and a metric label never disagree.

/// Declares a fieldless enum with one `"name"` per variant (`Variant => "name",`), deriving
/// `Debug, Clone, Copy, PartialEq, Eq` and implementing `as_str`, `Display` and `Serialize`.
///
/// With a one-line meaning for every variant (`Variant => "name": "what it means",`) it also
/// gets `meaning()` and `MEANINGS`, every variant in order with its meaning: the list the man
/// pages print, so a variant cannot be added without the words that document it (leaving one
/// out does not compile).
macro_rules! named {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal : $meaning:literal, )*
        }
    ) => {
        $crate::model::names::named! {
            $(#[$meta])*
            $vis enum $name {
                $( $(#[$vmeta])* $variant => $text, )*
            }
        }

        impl $name {
            /// Every variant, in order, with its one-line meaning (what the docs list).
            #[allow(dead_code)]
            pub const MEANINGS: &'static [($name, &'static str)] =
                &[ $( ($name::$variant, $meaning), )* ];

            /// What the variant means, in one line (as the man pages say it).
            #[allow(dead_code)]
            pub fn meaning(self) -> &'static str {
                match self {
                    $( $name::$variant => $meaning, )*
                }
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// The variant's name, as the JSON report, the logs and the metrics spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

pub(crate) use named;

#[cfg(test)]
mod tests {
    named! {
        /// A test enum.
        enum Colour {
            /// Red.
            Red => "red",
            DeepBlue => "deep-blue",
        }
    }

    named! {
        /// A test enum with meanings.
        enum Size {
            Small => "small": "fits in a hand",
            Large => "large": "needs two",
        }
    }

    #[test]
    fn meanings_in_order() {
        assert_eq!(Size::Large.meaning(), "needs two");
        assert_eq!(Size::Small.to_string(), "small");
        let all: Vec<(&str, &str)> = Size::MEANINGS
            .iter()
            .map(|(v, m)| (v.as_str(), *m))
            .collect();
        assert_eq!(all, [("small", "fits in a hand"), ("large", "needs two")]);
    }

    #[test]
    fn one_name_everywhere() {
        assert_eq!(Colour::DeepBlue.as_str(), "deep-blue");
        assert_eq!(Colour::Red.to_string(), "red");
        assert_eq!(
            serde_json::to_string(&[Colour::Red, Colour::DeepBlue]).unwrap(),
            r#"["red","deep-blue"]"#
        );
    }
}
