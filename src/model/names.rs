//! Enums whose variants each have one name, written once: `as_str`, `Display` and the JSON
//! string all come from it, so a report, a log line and a metric label never disagree.

/// Declares a fieldless enum with one `"name"` per variant (`Variant => "name",`), deriving
/// `Debug, Clone, Copy, PartialEq, Eq` and implementing `as_str`, `Display` and `Serialize`.
macro_rules! named {
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
